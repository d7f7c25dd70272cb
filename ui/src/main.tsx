import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Kv } from './Kv.js';
import { Nodes } from './Nodes.js';
import { navigate, usePath } from './router.js';
import { Services } from './Services.js';

const style = `
  body { font-family: system-ui, sans-serif; margin: 0; color: #1b1f24; background: #fff; }
  @media (prefers-color-scheme: dark) { body { color: #e6e6e6; background: #16181c; } }
  header { padding: 0.75rem 1rem; border-bottom: 1px solid #8884; font-weight: 600; }
  header { display: flex; gap: 1rem; flex-wrap: wrap; }
  header a { color: inherit; } header a[aria-current="page"] { text-decoration: none; border-bottom: 2px solid; }
  pre.value, .conflict pre { background: #8881; padding: 0.5rem; white-space: pre-wrap; word-break: break-all; }
  textarea { display: block; width: 100%; min-height: 6rem; margin: 0.5rem 0; }
  .conflict { border: 1px solid #cf222e; padding: 0.5rem; margin-top: 1rem; }
  main { padding: 1rem; overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 0.4rem 0.6rem; border-bottom: 1px solid #8883; }
  .passing { color: #1a7f37; } .warning { color: #9a6700; } .critical { color: #cf222e; }
`;

const PAGES = [
  ['services', 'Services'],
  ['nodes', 'Nodes'],
  ['kv/', 'Key/Value'],
] as const;

function App() {
  const path = usePath();
  const page = path.startsWith('kv/') || path === 'kv' ? 'kv/' : path.startsWith('nodes') ? 'nodes' : 'services';
  return (
    <>
      <style>{style}</style>
      <header>
        <span>Konsul</span>
        <nav aria-label="pages">
          {PAGES.map(([to, label]) => (
            <a
              key={to}
              href={`/ui/${to}`}
              aria-current={page === to ? 'page' : undefined}
              onClick={(e) => (e.preventDefault(), navigate(to))}
              style={{ marginRight: '1rem' }}
            >
              {label}
            </a>
          ))}
        </nav>
      </header>
      <main>
        {page === 'kv/' ? (
          <Kv path={path === 'kv' ? '' : path.slice(3)} />
        ) : page === 'nodes' ? (
          <Nodes />
        ) : (
          <Services />
        )}
      </main>
    </>
  );
}

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
