import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 in front of one address, which a test can cut (every open connection
 * is dropped and new ones are closed at once) and heal: a network partition between a client
 * and a server that both keep running.
 */
export class TcpRelay {
  private readonly open = new Set<Socket>();
  private isCut = false;

  private readonly server: Server;
  /** The relay's own address, `127.0.0.1:<port>` (set once started). */
  address = '';

  private constructor(host: string, port: number) {
    this.server = createServer((client) => {
      if (this.isCut) {
        client.destroy();
        return;
      }
      const upstream = createConnection({ host, port });
      for (const s of [client, upstream]) {
        this.open.add(s);
        s.on('close', () => this.open.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  /** Starts a relay to `target` (`host:port`) on a free port. */
  static async start(target: string): Promise<TcpRelay> {
    const at = target.lastIndexOf(':');
    const relay = new TcpRelay(target.slice(0, at), Number(target.slice(at + 1)));
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    relay.address = `127.0.0.1:${(relay.server.address() as { port: number }).port}`;
    return relay;
  }

  /** Drops every open connection and refuses new ones until heal(). */
  cut(): void {
    this.isCut = true;
    for (const s of this.open) s.destroy();
  }

  /** Lets connections through again. */
  heal(): void {
    this.isCut = false;
  }

  /** Stops the relay and drops its connections. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
