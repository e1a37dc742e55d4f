"use strict";
// The service's offsets count Unicode code points of the text in NFC (Python's str indices);
// JavaScript strings index UTF-16 units, so the page sends the NFC text it shows and slices it
// by code points (Array.from), which hits the same characters for Bengali and for characters
// outside the BMP alike.

const COLORS = { PER: "#ffcf99", LOC: "#a8e6a1", ORG: "#a9d1ff", MISC: "#e3c4ff" };

function colorOf(type) {
  if (COLORS[type]) return COLORS[type];
  let hash = 0;
  for (const c of type) hash = (hash * 31 + c.codePointAt(0)) % 360;
  return `hsl(${hash}, 80%, 82%)`;
}

const input = document.getElementById("input");
const button = document.getElementById("tag");
const statusLine = document.getElementById("status");

function setStatus(message, isError) {
  statusLine.textContent = message;
  statusLine.classList.toggle("error", Boolean(isError));
}

async function loadInfo() {
  const info = document.getElementById("model-info");
  try {
    const health = await (await fetch("health")).json();
    const model = health.model ? `${health.model}, ` : "";
    info.textContent = `${model}tokenizer language ${health.language}; ` +
      `up to ${health.max_request_bytes.toLocaleString()} bytes per request`;
  } catch (error) {
    info.textContent = "the service does not answer /health";
  }
}

function typeBadge(type) {
  const badge = document.createElement("span");
  badge.textContent = type;
  badge.style.setProperty("--color", colorOf(type));
  return badge;
}

// Renders `text` with the entities of `result` as <mark> elements; returns the problems found
// (an entity whose offsets do not give its text), which are shown, not hidden.
function render(text, result) {
  const chars = Array.from(text);
  const highlighted = document.getElementById("highlighted");
  const rows = document.querySelector("#entities tbody");
  const legend = document.getElementById("legend");
  highlighted.replaceChildren();
  rows.replaceChildren();
  legend.replaceChildren();
  const problems = [];
  const counts = new Map();
  const entities = [...result.entities].sort((a, b) => a.start - b.start);
  let position = 0;
  for (const entity of entities) {
    if (entity.start < position || entity.end > chars.length || entity.start >= entity.end) {
      problems.push(`entity ${JSON.stringify(entity.text)} has offsets ${entity.start}-${entity.end}`);
      continue;
    }
    const covered = chars.slice(entity.start, entity.end).join("");
    if (covered !== entity.text) {
      problems.push(`offsets ${entity.start}-${entity.end} give ${JSON.stringify(covered)}, ` +
        `not ${JSON.stringify(entity.text)}`);
    }
    highlighted.append(chars.slice(position, entity.start).join(""));
    const mark = document.createElement("mark");
    mark.className = "entity";
    mark.dataset.type = entity.type;
    mark.dataset.start = entity.start;
    mark.dataset.end = entity.end;
    mark.title = `${entity.type}, characters ${entity.start}-${entity.end}`;
    mark.style.setProperty("--color", colorOf(entity.type));
    mark.textContent = covered;
    highlighted.append(mark);
    position = entity.end;
    counts.set(entity.type, (counts.get(entity.type) || 0) + 1);

    const row = rows.insertRow();
    row.insertCell().textContent = covered;
    const typeCell = row.insertCell();
    typeCell.className = "type";
    typeCell.append(typeBadge(entity.type));
    row.insertCell().textContent = `${entity.start}–${entity.end}`;
  }
  highlighted.append(chars.slice(position).join(""));
  for (const [type, count] of [...counts].sort()) {
    const badge = typeBadge(`${type} ${count}`);
    badge.style.setProperty("--color", colorOf(type));
    legend.append(badge);
  }
  document.getElementById("entities").hidden = entities.length === 0;
  if (entities.length === 0) {
    const none = document.createElement("p");
    none.className = "none";
    none.textContent = "No entities found.";
    legend.append(none);
  }
  document.getElementById("result").hidden = false;
  return problems;
}

async function tagInput() {
  const text = input.value.normalize("NFC");
  input.value = text;
  button.disabled = true;
  document.body.dataset.state = "busy";
  setStatus("Tagging…");
  try {
    const response = await fetch("tag", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text }),
    });
    let answer;
    try {
      answer = await response.json();
    } catch (error) {
      throw new Error(`the service answered ${response.status} without JSON`);
    }
    if (!response.ok) throw new Error(answer.error || `the service answered ${response.status}`);
    const problems = render(text, answer);
    const count = answer.entities.length;
    if (problems.length) {
      setStatus(`Offsets do not match the text: ${problems.join("; ")}`, true);
    } else {
      setStatus(`${count} ${count === 1 ? "entity" : "entities"} in ${answer.tokens.length} tokens.`);
    }
    document.body.dataset.state = "done";
  } catch (error) {
    setStatus(error.message, true);
    document.body.dataset.state = "error";
  } finally {
    button.disabled = false;
  }
}

button.addEventListener("click", tagInput);
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) tagInput();
});
loadInfo();
// /?text=... fills the box and tags it, so that a page can be linked to.
const initial = new URLSearchParams(location.search).get("text");
if (initial !== null) {
  input.value = initial;
  tagInput();
}
