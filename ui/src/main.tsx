import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Services } from './Services.js';

const style = `
  body { font-family: system-ui, sans-serif; margin: 0; color: #1b1f24; background: #fff; }
  @media (prefers-color-scheme: dark) { body { color: #e6e6e6; background: #16181c; } }
  header { padding: 0.75rem 1rem; border-bottom: 1px solid #8884; font-weight: 600; }
  main { padding: 1rem; overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 0.4rem 0.6rem; border-bottom: 1px solid #8883; }
  .passing { color: #1a7f37; } .warning { color: #9a6700; } .critical { color: #cf222e; }
`;

function App() {
  return (
    <>
      <style>{style}</style>
      <header>Konsul</header>
      <main>
        <Services />
      </main>
    </>
  );
}

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
