// The dashboard: follows GET /admin/live and keeps the page current.
//
// Events: `settings` (the server's lag alert), `history` (the last hour's samples),
// `projections` (as GET /admin/projections answers, every second), `samples` (new samples),
// `unavailable` (a problem: the projections could not be read this time).

import { wireLetters } from "./actions.js";
import { alarming, render } from "./table.js";

const HOUR_MS = 3600 * 1000;
const RECONNECT_MS = 3000;

const page = {
  history: new Map(),
  last: null,
  /** How many lists have been shown: a test waits on it for one newer than what it read. */
  updates: 0,
  lagAlert: 10,
  /** Whether the operator set the threshold in the page (it then outlives the server's). */
  ownAlert: false,
};

function connect() {
  const status = document.getElementById("connection");
  const source = new EventSource("/admin/live");
  status.dataset.state = "connecting";
  status.textContent = "connecting…";

  source.addEventListener("open", () => {
    status.dataset.state = "open";
    status.textContent = "live";
  });
  source.addEventListener("settings", (e) => {
    const settings = JSON.parse(e.data);
    if (!page.ownAlert && Number.isFinite(settings.lag_alert_seconds)) {
      page.lagAlert = settings.lag_alert_seconds;
      document.getElementById("lag-alert").value = String(page.lagAlert);
    }
  });
  source.addEventListener("history", (e) => {
    page.history = new Map(Object.entries(JSON.parse(e.data).samples || {}));
  });
  source.addEventListener("samples", (e) => {
    const cutoff = Date.now() - HOUR_MS;
    for (const [name, samples] of Object.entries(JSON.parse(e.data).samples || {})) {
      const kept = (page.history.get(name) || []).concat(samples);
      page.history.set(name, kept.filter((s) => Date.parse(s.at) >= cutoff));
    }
  });
  source.addEventListener("projections", (e) => {
    page.last = JSON.parse(e.data);
    show();
    page.updates += 1;
    document.body.dataset.updates = String(page.updates);
  });
  source.addEventListener("unavailable", (e) => {
    const problem = JSON.parse(e.data);
    document.getElementById("summary").textContent = `The projections cannot be read now: ${problem.detail || problem.title}`;
  });
  source.addEventListener("error", () => {
    status.dataset.state = "closed";
    status.textContent = "reconnecting…";
    // The browser retries a dropped stream by itself, but not one refused or cut short with
    // an error answer: start afresh then.
    if (source.readyState === EventSource.CLOSED) {
      setTimeout(connect, RECONNECT_MS);
    }
  });
}

function show() {
  const list = page.last;
  if (!list) return;
  render(list, page.history, page.lagAlert);
  const projections = list.projections || [];
  const attention = projections.filter((p) => alarming(p, page.lagAlert));
  document.getElementById("head").textContent = `head ${list.head}`;
  document.getElementById("summary").textContent = attention.length
    ? `${attention.length} of ${projections.length} need attention: ${attention.map((p) => p.name).join(", ")}`
    : `${projections.length} projections, all well`;
  document.title = attention.length
    ? `(${attention.length}) ⚠ projector dashboard`
    : "projector dashboard";
  showRelay(list.relay);
}

function showRelay(relay) {
  const section = document.getElementById("relay");
  section.hidden = !relay;
  if (!relay) return;
  const text = `published ${relay.published} of ${relay.head}: ${relay.lag_events} events, ${Number(relay.lag_seconds).toFixed(1)} s behind`;
  document.getElementById("relay-text").textContent = relay.error ? `${text}; failing: ${relay.error}` : text;
  section.classList.toggle("alert", Boolean(relay.error) || relay.lag_seconds > page.lagAlert);
}

function wireThreshold() {
  const input = document.getElementById("lag-alert");
  input.addEventListener("change", () => {
    const value = Number(input.value);
    if (Number.isFinite(value) && value >= 0) {
      page.lagAlert = value;
      page.ownAlert = true;
      show();
    }
  });
}

wireThreshold();
wireLetters();
connect();
