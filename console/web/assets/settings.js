// Settings: the effective configuration (secrets masked), loaded rules and presets, the console token.
import { el, replace, api, mutate, nav, token, setToken } from './common.js';

nav('Settings');
const page = document.getElementById('page');
const pretty = (value) => (value === null || value === undefined ? '(not provided by the node)' :
  typeof value === 'string' ? value : JSON.stringify(value, null, 2));

const tokenInput = el('input', { type: 'password', size: 32, placeholder: 'console.token', value: token() });
const tokenForm = el('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); setToken(tokenInput.value); status.textContent = tokenInput.value ? 'saved for this browser session' : 'cleared'; } },
  el('label', {}, 'Console token (kept in this tab only)', tokenInput), el('button', { type: 'submit', text: 'Save' }));
const status = el('span', { class: 'muted' });

// Ends every browser session opened by a launch link (e.g. after a link was forwarded).
const revokeStatus = el('span', { class: 'muted' });
const revokeButton = el('button', { type: 'button', text: 'End all launch sessions', onclick: async () => {
  try { revokeStatus.textContent = `${(await mutate('/api/launch-sessions/revoke')).revoked} session(s) ended`; }
  catch (e) { revokeStatus.textContent = e.message; }
} });

api('/api/settings').then((s) => {
  const c = s.console;
  replace(page, el('h1', { text: 'Settings' }),
    el('section', { class: 'card' }, el('h2', { text: 'Console' }),
      el('dl', { class: 'kv' },
        el('dt', { text: 'Listening on' }), el('dd', { text: `${c.tls ? 'https' : 'http'}://${c.bind}:${c.port}/` }),
        el('dt', { text: 'Mutating calls' }), el('dd', { text: c.mutations_enabled ? 'enabled (bearer token)' : 'disabled: no console.token configured' }),
        el('dt', { text: 'Reading patient data' }), el('dd', { id: 'reads', text: c.reads_need_token ? 'needs the console token (or a launch link for one study)' : 'open to this machine (loopback)' }),
        el('dt', { text: 'Host names' }), el('dd', { text: ['the bind address', ...(c.allowed_hosts || [])].join(', ') }),
        el('dt', { text: 'Signed launch tokens' }),
        el('dd', {}, c.launch_tokens ? 'enabled ' : 'not configured', c.launch_tokens ? revokeButton : null, ' ', revokeStatus),
        el('dt', { text: 'On-demand render' }), el('dd', { text: c.on_demand_render ? 'available' : 'not available' })),
      tokenForm, status),
    el('section', { class: 'card' }, el('h2', { text: 'Effective configuration (secrets masked)' }), el('pre', { id: 'config', text: s.config_toml || '(not provided)' })),
    el('section', { class: 'card' }, el('h2', { text: 'Routing rules' }), el('pre', { id: 'rules', text: pretty(s.rules) })),
    el('section', { class: 'card' }, el('h2', { text: 'Presets' }), el('pre', { id: 'presets', text: pretty(s.presets) })));
}).catch((e) => replace(page, el('h1', { text: 'Settings' }), el('p', { class: 'error', text: e.message }),
  el('section', { class: 'card' }, el('h2', { text: 'Console token' }), tokenForm, status)));
