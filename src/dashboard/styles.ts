/** The dashboard's one stylesheet, inlined in each page: light and dark by the system's choice, readable from 375 px up. */
export const STYLES = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1b1f24; --muted: #5b636e; --line: #d5dae0; --panel: #f5f7f9;
  --accent: #0b5cad; --ok: #1a7f37; --bad: #b42318; --warn: #9a6700; --taken: #d9480f; font-family: system-ui, sans-serif; }
@media (prefers-color-scheme: dark) { :root { --bg: #111418; --fg: #e6e9ed; --muted: #9aa4af; --line: #2e353d; --panel: #1a1f25;
  --accent: #6cb4ff; --ok: #4ac26b; --bad: #ff7b72; --warn: #d4a72c; --taken: #ff922b; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); line-height: 1.45; font-size: 15px; }
a { color: var(--accent); }
header.top { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; align-items: baseline; padding: .6rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); }
header.top strong { font-size: 1.1rem; }
header.top nav a { margin-right: 1rem; }
main { max-width: 1240px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.35rem; margin: .2rem 0 1rem; } h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: .85rem; }
td.num { font-variant-numeric: tabular-nums; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dl.fields dt { color: var(--muted); } dl.fields dd { margin: 0; overflow-wrap: anywhere; }
pre { background: var(--panel); border: 1px solid var(--line); padding: .5rem; overflow-x: auto; margin: 0; font-size: .85rem; white-space: pre-wrap; overflow-wrap: anywhere; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: flex-end; margin-bottom: 1rem; }
form.filters label, .field label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); gap: .15rem; }
input, select, textarea, button { font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: .3rem .5rem; }
button { cursor: pointer; background: var(--panel); }
button.primary { background: var(--accent); color: var(--bg); border-color: var(--accent); }
button.danger { color: var(--bad); border-color: var(--bad); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.counts { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; margin-bottom: 1rem; }
.counts section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .4rem .7rem; }
.counts h3 { margin: 0 0 .2rem; font-size: .9rem; }
.counts ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .2rem .8rem; }
.state { font-family: ui-monospace, monospace; font-size: .85rem; white-space: nowrap; }
.state.succeeded { color: var(--ok); } .state.failed { color: var(--bad); } .state.cancelled { color: var(--warn); }
progress { width: 8rem; max-width: 100%; height: .9rem; vertical-align: middle; accent-color: var(--accent); }
.msg { color: var(--muted); font-size: .85rem; display: block; }
.pager { display: flex; gap: 1rem; margin: 1rem 0; }
.notice { border: 1px solid var(--line); background: var(--panel); padding: .5rem .75rem; border-radius: 6px; margin: .5rem 0 1rem; }
.notice.error { border-color: var(--bad); color: var(--bad); }
.grid2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1.5rem; }
@media (max-width: 900px) { .grid2 { grid-template-columns: minmax(0, 1fr); } }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: flex-start; }
.actions form { margin: 0; }
.reply { border: 1px solid var(--line); border-radius: 6px; padding: .6rem; display: grid; gap: .5rem; max-width: 34rem; }
.reply textarea { width: 100%; min-height: 6rem; font-family: ui-monospace, monospace; }
.stepper { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0; }
.stepper input[type=range] { flex: 1 1 12rem; }
ol.timeline { list-style: none; padding: 0; margin: 0; }
ol.timeline li { border-left: 3px solid var(--line); padding: .3rem .7rem; margin-left: .3rem; }
ol.timeline li.at { border-left-color: var(--taken); background: var(--panel); }
ol.timeline li.later { opacity: .55; }
ol.timeline .when { color: var(--muted); font-size: .8rem; font-variant-numeric: tabular-nums; }
figure.diagram { margin: 0; overflow-x: auto; }
svg.pl-diagram { max-width: 100%; height: auto; display: block; --pl-fg: var(--fg); --pl-node-bg: var(--bg); --pl-taken: var(--accent); --pl-current: var(--taken); }
.lifecycles section { margin-bottom: 2rem; }
/* Narrow screens: each job a small card of labelled fields instead of a wide row. */
@media (max-width: 640px) {
  table#jobs thead { display: none; }
  table#jobs tr { display: block; border-bottom: 1px solid var(--line); padding: .4rem 0; }
  table#jobs td { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0 .5rem; border: 0; padding: .1rem .25rem; overflow-wrap: anywhere; }
  table#jobs td::before { content: attr(data-label); flex: 0 0 5.5rem; color: var(--muted); font-size: .8rem; }
  table#jobs td .msg { flex-basis: 100%; padding-left: 6rem; }
  .state { white-space: normal; overflow-wrap: anywhere; }
}
.visually-hidden { position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0; overflow: hidden; clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; }
`;
