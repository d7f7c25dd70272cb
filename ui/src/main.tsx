import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Acl } from './Acl.js';
import { Activity } from './Activity.js';
import { useEdgeMode } from './api.js';
import { Cluster } from './Cluster.js';
import { Link } from './common.js';
import { Edge } from './Edge.js';
import { Fleet } from './Fleet.js';
import { Kv } from './Kv.js';
import { NodeDetail, Nodes } from './Nodes.js';
import { usePath } from './router.js';
import { ServiceDetail, Services } from './Services.js';
import { SessionDetail, Sessions } from './Sessions.js';
import { style } from './style.js';

/** Pages of a server's UI, and of an edge agent's (read-mostly: no sessions, ACLs or cluster). */
const SERVER_PAGES = [
  ['services', 'Services'],
  ['nodes', 'Nodes'],
  ['kv/', 'Key/Value'],
  ['sessions', 'Sessions'],
  ['acl', 'Access control'],
  ['cluster', 'Cluster'],
  ['fleet', 'Fleet'],
  ['activity', 'Activity'],
] as const;
const EDGE_PAGES = [
  ['services', 'Services'],
  ['nodes', 'Nodes'],
  ['kv/', 'Key/Value'],
  ['edge', 'Edge agent'],
] as const;

type Theme = 'system' | 'light' | 'dark';
const THEME_KEY = 'konsul-theme';

/** The colour theme: the system's preference unless the user picked one (kept in local storage). */
function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem(THEME_KEY) as Theme | null) ?? 'system');
  useEffect(() => {
    if (theme === 'system') document.documentElement.removeAttribute('data-theme');
    else document.documentElement.setAttribute('data-theme', theme);
    localStorage.setItem(THEME_KEY, theme);
  }, [theme]);
  const next = () => setTheme((t) => (t === 'system' ? 'dark' : t === 'dark' ? 'light' : 'system'));
  return [theme, next];
}

/** "/" focuses the page's filter or search box, as in many consoles (not while typing in a field). */
function useSlashToFilter(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) return;
      const box = document.querySelector<HTMLInputElement>('[data-filter]');
      if (box) {
        e.preventDefault();
        box.focus();
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
}

/** The page for `path` (below /ui/). */
function Page({ path, edge }: { path: string; edge: boolean }) {
  const [head = '', ...rest] = path.split('/');
  const tail = rest.join('/');
  if (head === 'kv') return <Kv path={tail} />;
  if (head === 'nodes') return tail ? <NodeDetail name={tail} /> : <Nodes />;
  if (head === 'edge' && edge) return <Edge />;
  if (!edge) {
    if (head === 'sessions') return tail ? <SessionDetail id={tail} /> : <Sessions />;
    if (head === 'acl') return <Acl tab={tail} />;
    if (head === 'cluster') return <Cluster />;
    if (head === 'fleet') return <Fleet />;
    if (head === 'activity') return <Activity />;
  }
  if (head === 'services' && tail) return <ServiceDetail name={tail} />;
  return <Services />;
}

function App() {
  const path = usePath();
  const edge = useEdgeMode();
  const [theme, nextTheme] = useTheme();
  useSlashToFilter();
  const pages = edge ? EDGE_PAGES : SERVER_PAGES;
  const head = path.split('/')[0] ?? '';
  const current = pages.find(([to]) => to.replace('/', '') === head)?.[0] ?? 'services';
  useEffect(() => {
    const label = pages.find(([to]) => to === current)?.[1] ?? '';
    document.title = `${label} · Konsul${edge ? ' edge agent' : ''}`;
  }, [current, edge, pages]);
  return (
    <>
      <style>{style}</style>
      <a href="#content" className="skip">
        Skip to content
      </a>
      <header>
        <strong>Konsul{edge ? ' edge agent' : ''}</strong>
        <nav aria-label="pages">
          {pages.map(([to, label]) => (
            <span key={to} aria-current={current === to ? 'page' : undefined}>
              <Link to={to}>{label}</Link>
            </span>
          ))}
        </nav>
        <button className="theme" onClick={nextTheme} aria-label={`theme: ${theme}`} title="Switch theme">
          Theme: {theme}
        </button>
      </header>
      <main id="content" tabIndex={-1}>
        {edge === undefined ? <p>Loading…</p> : <Page path={path} edge={edge} />}
      </main>
      <footer>
        Press <kbd>/</kbd> to filter. {edge ? 'Read-mostly: KV writes wait in the outbox while offline.' : ''}
      </footer>
    </>
  );
}

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
