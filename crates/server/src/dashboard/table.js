// The table of projections: one row per projection, kept in place and updated with each
// `projections` event, so buttons and charts survive the updates.

import { act, showLetters } from "./actions.js";
import { chart, draw } from "./charts.js";

/** States in which a projection applies nothing until someone acts or it recovers. */
const HALTED = new Set(["stopped", "diverged", "retrying", "paused"]);

const rows = new Map();

/** Whether `p` needs attention: halted, or lagging more than `lagAlert` seconds. */
export function alarming(p, lagAlert) {
  return HALTED.has(p.state) || Number(p.lag_seconds) > lagAlert;
}

/** Shows `list` (a `GET /admin/projections` answer); `history` holds each one's samples. */
export function render(list, history, lagAlert) {
  const body = document.querySelector("#projections tbody");
  const seen = new Set();
  for (const p of list.projections || []) {
    seen.add(p.name);
    let row = rows.get(p.name);
    if (!row) {
      row = makeRow(p.name);
      rows.set(p.name, row);
      body.append(row.element);
    }
    fill(row, p, history.get(p.name) || [], lagAlert);
  }
  for (const [name, row] of rows) {
    if (!seen.has(name)) {
      row.element.remove();
      rows.delete(name);
    }
  }
}

const FIELDS = [
  "name", "state", "holder", "version", "generation", "checkpoint", "lag_events", "lag_seconds",
  "throughput_per_s", "dead_letters", "rebuild", "lag_chart", "throughput_chart", "actions",
];
const NUMERIC = new Set([
  "version", "generation", "checkpoint", "lag_events", "lag_seconds", "throughput_per_s", "dead_letters",
]);

function makeRow(name) {
  const element = document.createElement("tr");
  element.dataset.projection = name;
  const cells = {};
  for (const field of FIELDS) {
    const cell = document.createElement("td");
    cell.dataset.field = field;
    if (NUMERIC.has(field)) cell.className = "num";
    element.append(cell);
    cells[field] = cell;
  }
  cells.name.textContent = name;
  const lagChart = chart("lag");
  const throughputChart = chart("throughput");
  cells.lag_chart.append(lagChart);
  cells.throughput_chart.append(throughputChart);
  for (const label of ["Rebuild", "Pause", "Resume"]) {
    cells.actions.append(button(label, () => act(label, name)));
  }
  cells.actions.append(button("Dead letters", () => showLetters(name)));
  return { element, cells, lagChart, throughputChart };
}

function button(label, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.dataset.action = label.toLowerCase().replace(" ", "-");
  element.addEventListener("click", onClick);
  return element;
}

function fill(row, p, samples, lagAlert) {
  const { cells } = row;
  const alert = alarming(p, lagAlert);
  row.element.classList.toggle("alert", alert);

  cells.state.replaceChildren();
  const state = document.createElement("span");
  state.className = `state state-${p.state}`;
  state.textContent = p.state;
  cells.state.append(state);
  if (alert) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = HALTED.has(p.state) ? "attention" : "lagging";
    cells.state.append(badge);
  }
  if (p.error) {
    const error = document.createElement("div");
    error.className = "error";
    error.textContent = p.stopped_at !== undefined ? `at ${p.stopped_at}: ${p.error}` : p.error;
    cells.state.append(error);
  }

  cells.holder.textContent = p.holder || (p.local ? "each server (local)" : "");
  if (p.local) cells.holder.title = "kept by each server on its own disk";
  cells.version.textContent = text(p.version);
  cells.generation.textContent = text(p.generation);
  cells.checkpoint.textContent = text(p.checkpoint);
  cells.lag_events.textContent = text(p.lag_events);
  cells.lag_seconds.textContent = Number(p.lag_seconds || 0).toFixed(1);
  cells.throughput_per_s.textContent = Number(p.throughput_per_s || 0).toFixed(1);
  cells.dead_letters.textContent = text(p.dead_letters);
  fillRebuild(cells.rebuild, p.rebuild);

  draw(row.lagChart, samples, "lag_seconds", lagAlert);
  draw(row.throughputChart, samples, "throughput_per_s");
}

/** A rebuild's generation, how far it got of how far it must go, and a bar. */
function fillRebuild(cell, rebuild) {
  if (!rebuild) {
    cell.replaceChildren();
    cell.dataset.generation = "";
    return;
  }
  const done = Number(rebuild.checkpoint) || 0;
  const total = done + (Number(rebuild.remaining_events) || 0);
  cell.dataset.generation = String(rebuild.generation);
  let bar = cell.querySelector("progress");
  let label = cell.querySelector("span");
  if (!bar) {
    label = document.createElement("span");
    bar = document.createElement("progress");
    cell.replaceChildren(label, document.createElement("br"), bar);
  }
  bar.max = Math.max(total, 1);
  bar.value = done;
  label.textContent = `generation ${rebuild.generation}: ${done} / ${total}`;
}

function text(value) {
  return value === undefined || value === null ? "–" : String(value);
}
