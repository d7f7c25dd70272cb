/**
 * The app's whole style sheet: light and dark themes as CSS variables (the system's preference,
 * or the one picked, set as data-theme on <html>), visible keyboard focus, and layouts that fit a
 * 390-px-wide phone (tables scroll sideways, the header wraps).
 */
export const style = `
  :root { --fg: #1b1f24; --bg: #fff; --muted: #59636e; --line: #d1d9e0; --panel: #f6f8fa;
    --accent: #0969da; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; color-scheme: light; }
  @media (prefers-color-scheme: dark) {
    :root:not([data-theme="light"]) { --fg: #e6e6e6; --bg: #16181c; --muted: #9198a1; --line: #3d444d;
      --panel: #21262d; --accent: #4493f8; --ok: #3fb950; --warn: #d29922; --bad: #f85149; color-scheme: dark; }
  }
  :root[data-theme="dark"] { --fg: #e6e6e6; --bg: #16181c; --muted: #9198a1; --line: #3d444d;
    --panel: #21262d; --accent: #4493f8; --ok: #3fb950; --warn: #d29922; --bad: #f85149; color-scheme: dark; }
  body { font-family: system-ui, sans-serif; margin: 0; color: var(--fg); background: var(--bg); }
  a { color: var(--accent); }
  :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
  .skip { position: absolute; left: -999px; } .skip:focus { left: 0.5rem; top: 0.5rem; background: var(--bg); }
  header { padding: 0.75rem 1rem; border-bottom: 1px solid var(--line); display: flex; gap: 1rem;
    flex-wrap: wrap; align-items: center; }
  header nav { display: flex; gap: 1rem; flex-wrap: wrap; }
  header nav span[aria-current="page"] a { color: var(--fg); text-decoration: none; border-bottom: 2px solid; }
  header .theme { margin-left: auto; }
  main { padding: 1rem; overflow-x: auto; }
  main:focus { outline: none; }
  footer { padding: 0.5rem 1rem; color: var(--muted); font-size: 0.85rem; }
  table { border-collapse: collapse; width: 100%; display: block; overflow-x: auto; }
  @media (min-width: 700px) { table { display: table; } }
  th, td { text-align: left; padding: 0.4rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  button { font: inherit; padding: 0.3rem 0.7rem; margin: 0.2rem 0.3rem 0.2rem 0; border-radius: 6px;
    border: 1px solid var(--line); background: var(--panel); color: var(--fg); cursor: pointer; }
  button[aria-pressed="true"] { border-color: var(--accent); }
  button.danger { color: var(--bad); }
  button.link { border: none; background: none; color: var(--accent); text-decoration: underline; padding: 0; }
  input, select, textarea { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line);
    border-radius: 6px; padding: 0.3rem; max-width: 100%; }
  textarea { display: block; width: 100%; min-height: 6rem; margin: 0.5rem 0; box-sizing: border-box; }
  textarea.code, pre { font-family: ui-monospace, monospace; }
  pre.value, .conflict pre { background: var(--panel); padding: 0.5rem; white-space: pre-wrap; word-break: break-all; }
  pre.output { margin: 0; white-space: pre-wrap; word-break: break-word; max-height: 8rem; overflow: auto; }
  .toolbar { display: flex; gap: 1rem; flex-wrap: wrap; margin-bottom: 0.5rem; }
  .tool { margin: 0.75rem 0; }
  .card { border: 1px solid var(--line); border-radius: 8px; padding: 0.5rem 1rem; margin: 0.75rem 0; }
  .confirm { border: 1px solid var(--bad); padding: 0.5rem; border-radius: 6px; }
  .conflict { border: 1px solid var(--bad); padding: 0.5rem; margin-top: 1rem; }
  .error { color: var(--bad); }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
  dt { color: var(--muted); } dd { margin: 0; }
  .passing { color: var(--ok); } .warning { color: var(--warn); } .critical { color: var(--bad); }
  .badge { border: 1px solid; border-radius: 999px; padding: 0 0.5rem; font-size: 0.85rem; }
  .tabs { display: flex; gap: 1rem; margin: 1rem 0; } .tabs span[aria-current="page"] a { font-weight: 700; }
  .sparks { display: flex; flex-wrap: wrap; gap: 1rem; }
  .spark { margin: 0; padding: 0.5rem; border: 1px solid var(--line); border-radius: 8px; }
  .timeline { margin: 0; } .timeline svg { width: 100%; height: 60px; }
  .legend { margin-right: 1rem; } .legend span { display: inline-block; width: 0.8rem; height: 0.8rem; }
  .feed { padding-left: 1.2rem; } .feed time { color: var(--muted); }
  .login { margin: 0.5rem 0 1rem; }
  kbd { border: 1px solid var(--line); border-radius: 4px; padding: 0 0.3rem; }
`;
