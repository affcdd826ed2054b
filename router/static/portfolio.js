'use strict';
// The portfolio page's refresh flow over the public API only. Every value is set as text (never HTML).
const POLL_MS = 2000;          // the front end's polling interval
const MAX_POLL_MS = 15000;     // the longest back-off after errors, 429 or 5xx
const TIMEOUT_MS = 5 * 60 * 1000;
const app = document.getElementById('app');
const user = app.dataset.username;
const $ = id => document.getElementById(id);
const statusLine = $('status'), bar = $('progress'), reasons = $('reasons'), retry = $('retry');
const cards = $('cards'), refreshButton = $('refresh'), results = $('results');
const api = suffix => `/bundles/${encodeURIComponent(user)}${suffix}`;
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

async function errorText(response) {
  try { return (await response.json()).error || `HTTP ${response.status}`; } catch (e) { return `HTTP ${response.status}`; }
}

function card(record) {
  const meta = record.metadata || {};
  const article = el('article', 'card');
  const title = el('h3');
  const link = el('a', null, meta.name || record.name || '(unnamed)');
  if (typeof meta.html_url === 'string' && meta.html_url.startsWith('https://')) link.href = meta.html_url;
  title.append(link);
  const tags = [meta.language, ...(Array.isArray(meta.topics) ? meta.topics : [])].filter(Boolean).join(' · ');
  article.append(title, el('p', 'desc', meta.description || ''), el('p', 'tags', tags));
  return article;
}

function showBundle(bundle) {
  const records = Array.isArray(bundle.data) ? bundle.data : [];
  cards.replaceChildren(...records.map(card));
  statusLine.textContent = `${records.length} repositories (served by the ${bundle.path} path)`;
  app.dataset.state = 'completed';
  bar.hidden = true;
}

async function loadBundle() {
  const response = await fetch(api(''));
  if (response.status !== 200) return false;
  showBundle(await response.json());
  return true;
}

function showProgress(job) {
  bar.hidden = false;
  if (job.total_repos) {
    bar.max = job.total_repos;
    bar.value = job.completed_repos || 0;
    statusLine.textContent = `Syncing ${job.completed_repos || 0} of ${job.total_repos} repositories…`;
  } else {
    bar.removeAttribute('value');  // the legacy path reports no count until it is done
    statusLine.textContent = 'Syncing repositories…';
  }
}

function showFailure(lines) {
  app.dataset.state = 'failed';
  statusLine.textContent = 'The refresh failed.';
  reasons.replaceChildren(...lines.map(line => el('li', null, line)));
  reasons.hidden = false;
  retry.hidden = false;
  bar.hidden = true;
  refreshButton.disabled = false;
}

async function poll(jobId, started) {
  let delay = POLL_MS;
  for (;;) {
    await sleep(delay);
    if (Date.now() - started > TIMEOUT_MS) {
      return showFailure(['No answer within 5 minutes. The refresh may still finish: retry to check.']);
    }
    let response;
    try {
      response = await fetch(api(`/status?job_id=${encodeURIComponent(jobId)}`));
    } catch (e) {
      delay = Math.min(delay * 2, MAX_POLL_MS);  // the network blinked: back off
      continue;
    }
    if (response.status === 429 || response.status >= 500) {
      const asked = Number(response.headers.get('Retry-After')) * 1000 || 0;
      delay = Math.min(Math.max(delay * 2, asked), MAX_POLL_MS);
      continue;
    }
    if (!response.ok) return showFailure([await errorText(response)]);
    const job = await response.json();
    delay = POLL_MS;
    if (job.status === 'completed') {
      if (!(await loadBundle())) showFailure(['The job completed but no bundle was found.']);
      refreshButton.disabled = false;
      return;
    }
    if (job.status === 'failed') {
      const lines = [...(job.reasons || []), ...(job.failed_repos || []).map(f => `${f.repo}: ${f.error}`)];
      return showFailure(lines.length ? lines : ['The job failed.']);
    }
    showProgress(job);
  }
}

async function refresh(force) {
  refreshButton.disabled = true;
  retry.hidden = true;
  reasons.hidden = true;
  app.dataset.state = 'refreshing';
  statusLine.textContent = 'Starting the refresh…';
  let response;
  try {
    response = await fetch(api('/refresh'), {method: 'POST', headers: {'Content-Type': 'application/json'},
                                             body: JSON.stringify({force})});
  } catch (e) {
    return showFailure(['The gateway cannot be reached.']);
  }
  if (response.status === 200) {
    await loadBundle();
    refreshButton.disabled = false;
    return;
  }
  if (response.status !== 202) return showFailure([await errorText(response)]);
  const accepted = await response.json();
  showProgress({});
  return poll(accepted.job_id, Date.now());
}

async function search(event) {
  event.preventDefault();
  const query = $('query').value.trim();
  if (!query) return;
  const response = await fetch(api(`/search?q=${encodeURIComponent(query)}`));
  if (!response.ok) {
    results.replaceChildren(el('li', 'reasons', await errorText(response)));
    return;
  }
  const found = (await response.json()).results || [];
  results.replaceChildren(...found.map(hit => {
    const item = el('li', null, `${hit.repo}: ${hit.description || ''} `);
    item.append(el('span', 'score', `(${Number(hit.score).toFixed(2)})`));
    return item;
  }));
  if (!found.length) results.replaceChildren(el('li', null, 'Nothing matched.'));
}

refreshButton.addEventListener('click', () => refresh(true));
retry.addEventListener('click', () => refresh(true));
$('search').addEventListener('submit', search);
loadBundle().then(found => { if (!found) refresh(false); }).catch(() => refresh(false));
