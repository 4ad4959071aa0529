// Pulpo portal: small progressive enhancements. Every page works without
// this script; it keeps the dashboard and task logs live.
"use strict";

function refreshGrid() {
  const grid = document.getElementById("grid");
  if (!grid || !grid.dataset.refresh) return;
  let last = grid.innerHTML;
  let marker = grid.dataset.marker || "";
  setInterval(async () => {
    try {
      const url = grid.dataset.refresh + "&marker=" + encodeURIComponent(marker);
      const resp = await fetch(url, { credentials: "same-origin" });
      if (resp.status === 204 || !resp.ok) return; // nothing moved
      marker = resp.headers.get("X-Dashboard-Marker") || "";
      const html = await resp.text();
      if (html !== last) {
        grid.innerHTML = html;
        last = grid.innerHTML;
      }
    } catch (e) { /* offline for a moment; try again */ }
  }, 2000);
}

function stateClass(state) { return "state-" + String(state || "").toLowerCase(); }

function activityNode(act) {
  let node = document.getElementById("act-" + act.id);
  if (node) return node;
  node = document.createElement("details");
  node.id = "act-" + act.id;
  node.open = true;
  node.className = "node";
  const summary = document.createElement("summary");
  const name = document.createElement("span");
  name.className = "name";
  const badge = document.createElement("span");
  badge.className = "badge";
  summary.append(name, " ", badge);
  const lines = document.createElement("ol");
  lines.className = "lines";
  node.append(summary, lines);
  const parent = document.getElementById("act-" + (act.parentId || 0)) || document.getElementById("log");
  parent.append(node);
  return node;
}

function followTask() {
  const task = document.getElementById("task");
  if (!task || !window.EventSource) return;
  const id = task.dataset.task;
  const rendered = task.dataset.state;
  if (["Success", "Failed", "Canceled"].includes(rendered)) return;
  const since = task.dataset.since || "0";
  const es = new EventSource("/api/v1/tasks/" + encodeURIComponent(id) + "/log/stream?since=" + encodeURIComponent(since));
  const stateBadge = document.getElementById("task-state");
  es.addEventListener("line", (ev) => {
    const line = JSON.parse(ev.data);
    const node = document.getElementById("act-" + line.activityId) || document.getElementById("act-0");
    if (!node) return;
    const li = document.createElement("li");
    li.className = "level-" + String(line.level).toLowerCase();
    li.textContent = line.text;
    node.querySelector("ol.lines").append(li);
  });
  es.addEventListener("activities", (ev) => {
    for (const act of JSON.parse(ev.data)) {
      const node = activityNode(act);
      node.className = "node " + stateClass(act.state);
      node.querySelector("summary .name").textContent = act.name;
      const badge = node.querySelector("summary .badge");
      badge.textContent = act.state;
      badge.className = "badge " + stateClass(act.state);
    }
  });
  const showTask = (t) => {
    stateBadge.textContent = t.state;
    stateBadge.className = "badge " + stateClass(t.state);
    if (t.state === "Waiting" && rendered !== "Waiting") {
      // A question appeared: the page is drawn again to show its form.
      es.close();
      window.location.reload();
    } else if (t.state !== "Waiting") {
      // Answered (here or elsewhere): its form is done with.
      for (const q of document.querySelectorAll(".question")) q.remove();
    }
  };
  es.addEventListener("task", (ev) => showTask(JSON.parse(ev.data)));
  es.addEventListener("end", (ev) => {
    es.close();
    const t = JSON.parse(ev.data);
    stateBadge.textContent = t.state;
    stateBadge.className = "badge " + stateClass(t.state);
    task.dataset.state = t.state;
    for (const form of task.querySelectorAll("form")) form.remove();
  });
}

// uploadWithProgress sends a package with a progress bar; without this
// script the form posts the same upload and the page waits.
function uploadWithProgress() {
  const form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const bar = document.getElementById("upload-progress");
    const status = document.getElementById("upload-status");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) {
        bar.value = Math.round((100 * e.loaded) / e.total);
        status.textContent = bar.value + "% sent";
      }
    });
    xhr.addEventListener("load", () => {
      let answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status < 400 && answer.next) {
        window.location.assign(answer.next);
      } else {
        status.textContent = answer.error || "the upload failed (" + xhr.status + ")";
        status.className = "error";
      }
    });
    xhr.addEventListener("error", () => { status.textContent = "the upload was cut off"; status.className = "error"; });
    xhr.send(new FormData(form));
  });
}

// showFieldsForKind hides the fields the chosen kind does not use, in the
// add-a-step and step template forms; without this script the forms show
// them all, each labelled.
function showFieldsForKind() {
  document.querySelectorAll("#add-step, #template-form").forEach(showKindFields);
}

function showKindFields(form) {
  const show = () => {
    const kind = (form.querySelector('input[name="kind"]:checked') || {}).value || "script";
    form.querySelectorAll("[data-kinds]").forEach((el) => {
      el.hidden = !el.dataset.kinds.split(" ").includes(kind);
    });
  };
  form.querySelectorAll('input[name="kind"]').forEach((r) => r.addEventListener("change", show));
  show();
}

// reloadWhileBusy draws a staging's page again every 2 s while an action
// runs or a check is awaited (the page marks itself data-busy), unless
// the visitor has started typing into one of its forms. Without this
// script, reloading the page shows the same.
function reloadWhileBusy() {
  if (!document.querySelector("[data-busy]")) return;
  let typing = false;
  document.addEventListener("input", () => { typing = true; });
  document.addEventListener("focusin", (ev) => {
    if (ev.target.matches("input, textarea, select")) typing = true;
  });
  setTimeout(() => { if (!typing) window.location.reload(); }, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  refreshGrid();
  showFieldsForKind();
  followTask();
  uploadWithProgress();
  reloadWhileBusy();
});
