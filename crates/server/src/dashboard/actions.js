// The admin actions: each asks for confirmation in the page's dialog, calls the admin API
// and shows the outcome, or the server's reason (a problem's `detail`) when it refuses.

const dialog = () => document.getElementById("confirm");

/** Asks `question` in the page's dialog; resolves to whether the operator confirmed. */
export function confirmAction(question) {
  const box = dialog();
  document.getElementById("confirm-text").textContent = question;
  return new Promise((resolve) => {
    const yes = document.getElementById("confirm-yes");
    const cancel = document.getElementById("confirm-cancel");
    const finish = (answer) => {
      yes.removeEventListener("click", onYes);
      cancel.removeEventListener("click", onCancel);
      box.removeEventListener("cancel", onCancel);
      if (box.open) box.close();
      resolve(answer);
    };
    const onYes = () => finish(true);
    const onCancel = () => finish(false);
    yes.addEventListener("click", onYes);
    cancel.addEventListener("click", onCancel);
    box.addEventListener("cancel", onCancel);
    box.showModal();
  });
}

/** Adds a line to the list of outcomes, newest first. */
export function report(text, ok) {
  const item = document.createElement("li");
  item.className = ok ? "done" : "refused";
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  document.getElementById("outcomes").prepend(item);
}

/** Calls the admin API; resolves to `{ok, status, body}` with the body parsed when JSON. */
export async function call(method, path) {
  let response;
  try {
    response = await fetch(path, { method, headers: { Accept: "application/json" } });
  } catch (error) {
    return { ok: false, status: 0, body: { detail: `the server cannot be reached (${error.message})` } };
  }
  let body = null;
  const text = await response.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { detail: text.slice(0, 300) };
  }
  return { ok: response.ok, status: response.status, body };
}

/** Why a call failed, in the server's words when it gave them. */
export function reason(result) {
  const detail = result.body && typeof result.body.detail === "string" ? result.body.detail : "";
  return `${result.status || "no answer"}${detail ? `: ${detail}` : ""}`;
}

const encode = encodeURIComponent;

/** The actions on a projection, by the label of their button. */
export const projectionActions = {
  Rebuild: {
    question: (name) => `Rebuild ${name}? A new generation is filled from the first event beside the serving one, and swapped in once it has caught up.`,
    path: (name) => `/admin/projections/${encode(name)}/rebuild`,
    done: (name, body) => `Rebuild of ${name} started${body && body.generation ? `: generation ${body.generation}` : ""}.`,
  },
  Pause: {
    question: (name) => `Pause ${name}? It applies nothing until resumed; reads go on from what it has.`,
    path: (name) => `/admin/projections/${encode(name)}/pause`,
    done: (name) => `${name} paused.`,
  },
  Resume: {
    question: (name) => `Resume ${name}? It goes on from its checkpoint.`,
    path: (name) => `/admin/projections/${encode(name)}/resume`,
    done: (name, body) => `${name} resumed${body && body.checkpoint !== undefined ? ` from ${body.checkpoint}` : ""}.`,
  },
};

/** Confirms, runs and reports the action `label` on projection `name`. */
export async function act(label, name) {
  const action = projectionActions[label];
  if (!(await confirmAction(action.question(name)))) return;
  const result = await call("POST", action.path(name));
  if (result.ok) report(action.done(name, result.body), true);
  else report(`${label} ${name} refused (${reason(result)})`, false);
}

// Dead letters: a panel listing one projection's, with retry and skip for each and retry all.

let shown = null;

/** Shows the dead letters of `name` in the panel. */
export async function showLetters(name) {
  shown = name;
  const panel = document.getElementById("letters");
  document.getElementById("letters-name").textContent = name;
  panel.hidden = false;
  const result = await call("GET", `/admin/projections/${encode(name)}/dead-letters`);
  const body = document.querySelector("#letters-table tbody");
  body.replaceChildren();
  if (!result.ok) {
    report(`Dead letters of ${name} could not be read (${reason(result)})`, false);
    return;
  }
  const letters = lettersOf(result.body);
  document.getElementById("letters-empty").hidden = letters.length > 0;
  for (const letter of letters) body.append(letterRow(name, letter));
}

/** The list in an answer: a JSON list, or the first list among its fields. */
function lettersOf(body) {
  if (Array.isArray(body)) return body;
  if (body && typeof body === "object") {
    for (const key of ["dead_letters", "letters", "items"]) {
      if (Array.isArray(body[key])) return body[key];
    }
  }
  return [];
}

function letterRow(name, letter) {
  const row = document.createElement("tr");
  const text = (value) => (value === undefined || value === null ? "" : String(value));
  const cells = [
    [text(letter.position), "num"],
    [text(letter.stream_id), ""],
    [text(letter.event_type), ""],
    [text(letter.error), "error"],
    [text(letter.attempts), "num"],
    [text(letter.first_failed_at), ""],
    [text(letter.last_failed_at), ""],
    [letter.skipped ? "yes" : "no", ""],
  ];
  for (const [value, className] of cells) {
    const cell = document.createElement("td");
    cell.textContent = value;
    if (className) cell.className = className;
    row.append(cell);
  }
  const actions = document.createElement("td");
  const position = Number(letter.position);
  if (Number.isSafeInteger(position)) {
    for (const verb of ["retry", "skip"]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = verb === "retry" ? "Retry" : "Skip";
      button.addEventListener("click", () => letterAction(name, position, verb));
      actions.append(button);
    }
  }
  row.append(actions);
  return row;
}

async function letterAction(name, position, verb) {
  const question = verb === "retry"
    ? `Retry the event at ${position} in ${name}?`
    : `Skip the event at ${position} in ${name}? The projection goes on without it.`;
  if (!(await confirmAction(question))) return;
  const result = await call("POST", `/admin/projections/${encode(name)}/dead-letters/${position}/${verb}`);
  if (result.ok) report(`${verb === "retry" ? "Retried" : "Skipped"} the event at ${position} in ${name}.`, true);
  else report(`${verb} of the event at ${position} in ${name} refused (${reason(result)})`, false);
  await showLetters(name);
}

/** Wires the panel's own buttons. */
export function wireLetters() {
  document.getElementById("letters-close").addEventListener("click", () => {
    shown = null;
    document.getElementById("letters").hidden = true;
  });
  document.getElementById("letters-refresh").addEventListener("click", () => shown && showLetters(shown));
  document.getElementById("letters-retry-all").addEventListener("click", async () => {
    const name = shown;
    if (!name || !(await confirmAction(`Retry every dead letter of ${name}?`))) return;
    const result = await call("POST", `/admin/projections/${encode(name)}/dead-letters/retry`);
    if (result.ok) report(`Retrying every dead letter of ${name}.`, true);
    else report(`Retry all in ${name} refused (${reason(result)})`, false);
    await showLetters(name);
  });
}
