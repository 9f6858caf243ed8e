// The page: uploads, the review of faces (review.js), jobs and their results. It only calls the
// server's API (app.py); every job runs on the server through the same code as the commands.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

let info = null;
const watched = new Map();  // job id -> callback(job) once it ends
const state = {
  add: {uploads: [], current: null, reviews: {}},
  remove: {uploads: [], current: null},
  upscale: {uploads: []},
  translate: {uploads: []},
};

// ---- the server -------------------------------------------------------------------------
async function api(method, url, body) {
  const options = {method, headers: {}};
  if (body instanceof Blob) {
    options.body = body;
  } else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["content-type"] = "application/json";
  }
  const response = await fetch(url, options);
  const data = await response.json().catch(() => ({error: `${response.status} ${response.statusText}`}));
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}

function say(text) {
  const box = $("#message");
  box.textContent = text;
  box.hidden = !text;
}

async function guarded(work) {
  try {
    say("");
    return await work();
  } catch (err) {
    say(err.message);
    return null;
  }
}

// ---- tabs -------------------------------------------------------------------------------
function showTab(name) {
  for (const b of document.querySelectorAll("[role=tab]")) b.setAttribute("aria-selected", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== `tab-${name}`;
}

// ---- uploads ----------------------------------------------------------------------------
async function upload(files, kind) {
  const done = [];
  for (const file of files) {
    try {
      done.push(await api("POST", `/api/uploads?name=${encodeURIComponent(file.name)}`, file));
    } catch (err) {
      say(err.message);  // the next files still go
    }
  }
  if (done.length) {
    state[kind].uploads = done;
    listUploads(kind);
  }
  return done;
}

function listUploads(kind) {
  const list = $(`#${kind}-uploads`);
  list.replaceChildren(...state[kind].uploads.map((u) => {
    const item = el("li", {tabIndex: 0}, el("span", {textContent: u.name}),
      el("small", {textContent: u.kind === "video"
        ? ` ${u.width}x${u.height}, ${u.duration.toFixed(1)} s${u.audio ? ", audio" : ""}` : ` ${u.width}x${u.height}`}));
    item.dataset.id = u.id;
    if (state[kind].current === u.id) item.classList.add("current");
    if (kind === "add" || kind === "remove") item.addEventListener("click", () => select(kind, u.id));
    return item;
  }));
}

function wireDrop(kind, onFiles) {
  const zone = document.querySelector(`.drop[data-kind=${kind}]`);
  const input = $(`#${kind}-files`);
  input.addEventListener("change", () => { onFiles([...input.files]); input.value = ""; });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    onFiles([...e.dataTransfer.files]);
  });
}

// ---- add: the review of faces -----------------------------------------------------------
let addOverlay = null;

function threshold() {
  return Number($("#add-threshold").value);
}

async function select(kind, id) {
  state[kind].current = id;
  listUploads(kind);
  const u = state[kind].uploads.find((x) => x.id === id);
  if (kind === "add") await reviewFaces(u);
  else await outlineMosaics(u);
}

async function reviewFaces(u) {
  $("#add-review").hidden = false;
  const isVideo = u.kind === "video";
  $("#add-stage").parentElement.hidden = isVideo;
  $("#add-strip").hidden = !isVideo;
  $("#add-video-input").hidden = !isVideo;
  $("#add-preview").hidden = isVideo;
  $("#add-count").textContent = "finding faces...";
  if (isVideo) {
    $("#add-video-input").src = `/api/uploads/${u.id}/file`;
  } else {
    await addOverlay.show(`/api/uploads/${u.id}/view`, u.width, u.height);
    addOverlay.setBoxes([]);
  }
  const found = await guarded(() => api("GET", `/api/uploads/${u.id}/faces`));
  if (!found) return;
  if (!state.add.reviews[u.id]) {
    state.add.reviews[u.id] = isVideo
      ? {keyframes: found.keyframes, review: new FaceReview([]), keepTracks: new Set(), trackBoxes: null, tracks: []}
      : {review: new FaceReview(found.faces)};
  }
  drawFaces();
}

function drawFaces() {
  const id = state.add.current;
  const entry = state.add.reviews[id];
  if (!entry) return;
  const u = state.add.uploads.find((x) => x.id === id);
  const t = threshold();
  const review = entry.review;
  const boxOf = (f) => {
    const kept = review.keep.has(f.index);
    return {box: f.box, index: f.index, cls: kept ? "kept" : "cover", label: f.score.toFixed(2),
      title: kept ? "kept visible (click to cover)" : "covered (click to keep visible)",
      onClick: () => { review.toggle(f.index); drawFaces(); }};
  };
  if (u.kind === "video") {
    drawStrip(u, entry, t);
    return;
  }
  const shown = review.shown(t);
  const added = review.also.map((box, i) => ({box, cls: "also", label: "added", title: "added by you (click to remove)",
    onClick: () => { review.also.splice(i, 1); drawFaces(); }}));
  addOverlay.setBoxes([...shown.map(boxOf), ...added]);
  const kept = shown.filter((f) => review.keep.has(f.index)).length;
  $("#add-count").textContent = `${shown.length} face${shown.length === 1 ? "" : "s"} at ${t.toFixed(2)}` +
    (kept ? `, ${kept} kept visible` : "") + (review.also.length ? `, ${review.also.length} added` : "");
}

// A video's key frames: the faces found on each (before a run), or, once a run has tracked
// them, each track's boxes: a click keeps that track visible over the whole video.
function drawStrip(u, entry, t) {
  const strip = $("#add-strip");
  strip.replaceChildren();
  let total = 0;
  for (const k of entry.keyframes) {
    const img = el("img", {alt: `frame ${k.frame}`, draggable: false});
    const overlay = el("div", {className: "overlay"});
    const stage = el("div", {className: "stage"}, img, overlay);
    const figure = el("figure", {}, stage, el("figcaption", {textContent: `${k.time.toFixed(1)} s`}));
    strip.appendChild(figure);
    const view = new BoxOverlay(stage, img, overlay);
    let boxes;
    if (entry.trackBoxes) {
      boxes = (entry.trackBoxes[k.index] || []).map((b) => {
        const kept = entry.keepTracks.has(b.track);
        return {box: b.box, cls: kept ? "kept track" : "cover track", label: `track ${b.track}`, index: b.track,
          title: kept ? "kept visible over the whole video (click to cover)" : "click to keep this face visible over the whole video",
          onClick: () => { if (kept) entry.keepTracks.delete(b.track); else entry.keepTracks.add(b.track); drawFaces(); }};
      });
    } else {
      boxes = k.faces.filter((f) => f.score > t).map((f) => ({box: f.box, cls: "cover", label: f.score.toFixed(2)}));
    }
    total += boxes.length;
    view.show(`/api/uploads/${u.id}/key/${k.index}`, u.width, u.height).then(() => view.setBoxes(boxes));
  }
  if (entry.trackBoxes) {
    const kept = entry.keepTracks.size;
    $("#add-count").textContent = `${entry.tracks.length} track${entry.tracks.length === 1 ? "" : "s"} in the last ` +
      `run${kept ? `, ${kept} kept visible` : ""}: click a face to keep its track visible, then apply again`;
  } else {
    $("#add-count").textContent = `${total} face${total === 1 ? "" : "s"} on ${entry.keyframes.length} key frames ` +
      `at ${t.toFixed(2)}`;
  }
}

function addOptions(ids) {
  const t = threshold();
  const block = $("#add-block").value;
  const keep = {};
  const also = {};
  const keepTracks = {};
  for (const id of ids) {
    const entry = state.add.reviews[id];
    if (!entry) continue;
    const r = entry.review.request(t);
    if (r.keep.length) keep[id] = r.keep;
    if (r.also.length) also[id] = r.also;
    if (entry.keepTracks && entry.keepTracks.size) keepTracks[id] = [...entry.keepTracks];
  }
  return {threshold: t, style: $("#add-style").value, block: block ? Number(block) : null, keep, also,
    keep_tracks: keepTracks};
}

function runAdd(ids) {
  return submitJob("add", ids, addOptions(ids));
}

// ---- remove -----------------------------------------------------------------------------
let removeOverlay = null;

async function outlineMosaics(u) {
  $("#remove-review").hidden = u.kind !== "image";
  if (u.kind !== "image") return;
  await removeOverlay.show(`/api/uploads/${u.id}/view`, u.width, u.height);
  removeOverlay.setBoxes([]);
  $("#remove-count").textContent = "finding mosaics...";
  const found = await guarded(() => api("GET", `/api/uploads/${u.id}/mosaics`));
  if (!found) return;
  removeOverlay.setBoxes(found.boxes.map((box) => ({box, cls: "mosaic"})));
  $("#remove-count").textContent = `${found.boxes.length} mosaic${found.boxes.length === 1 ? "" : "s"} found`;
}

// ---- jobs -------------------------------------------------------------------------------
function progressText(job) {
  if (job.state === "failed") return job.error;
  const of = job.total ? ` / ${job.total}` : "";
  const rate = job.rate ? `, ${job.rate.toFixed(1)} ${job.unit}s/s` : "";
  const eta = job.eta != null ? `, ${Math.ceil(job.eta)} s left` : "";
  return `${job.done}${of} ${job.unit}s${rate}${eta}`;
}

function progressBlock(job) {
  const bar = el("progress", {max: job.total || 1, value: job.total ? job.done : 0});
  const cancel = el("button", {type: "button", textContent: job.cancelling ? "cancelling..." : "Cancel",
    className: "cancel", disabled: job.cancelling});
  cancel.addEventListener("click", () => guarded(() => api("POST", `/api/jobs/${job.id}/cancel`)).then(poll));
  const live = job.state === "queued" || job.state === "running";
  const block = el("div", {className: `job ${job.state}`}, el("span", {className: "state", textContent: job.state}),
    bar, el("span", {className: "text", textContent: progressText(job)}));
  block.dataset.job = job.id;
  if (live) block.appendChild(cancel);
  return block;
}

// Show a job's progress in its tab, then its result.
// box.dataset.state says where the tab's job is (starting, queued, running, done, failed,
// cancelled): the tests wait on it.
function follow(job, kind) {
  const box = $(`#${kind}-result`);
  const show = (j) => { box.dataset.state = j.state; box.replaceChildren(progressBlock(j)); };
  box.hidden = false;
  show(job);
  watched.set(job.id, {kind, update: show,
    end: async (j) => {
      if (j.state !== "done") { show(j); return; }
      const full = await guarded(() => api("GET", `/api/jobs/${j.id}`));
      if (full) showResult(box, full, kind);
      box.dataset.state = full ? "done" : "failed";
    }});
  poll();
}

// Submit a job from a tab: its result box says "starting" until the server answers.
async function submitJob(kind, ids, options) {
  const box = $(`#${kind}-result`);
  box.hidden = false;
  box.dataset.state = "starting";
  box.replaceChildren(el("p", {className: "hint", textContent: "starting..."}));
  const job = await guarded(() => api("POST", "/api/jobs", {kind, uploads: ids, options}));
  if (job) follow(job, kind);
  else { box.dataset.state = "failed"; box.replaceChildren(); }
}

function uploadOf(kind, id) {
  return state[kind].uploads.find((u) => u.id === id);
}

function download(href, text) {
  return el("a", {href, textContent: text, className: "download", download: ""});
}

function showResult(box, job, kind) {
  const parts = [];
  if (kind === "remove") {
    parts.push(el("p", {className: "notice", textContent: "Restored regions are synthesized, not recovered: " +
      "a plausible guess from the mosaic's block colours, not the hidden original."}));
  }
  for (const out of job.outputs) {
    if (out.kind === "mask") continue;
    const entry = kind === "add" && state.add.reviews[out.input];
    if (entry && out.track_boxes) {  // the tracks of this run, on the review's key frames
      entry.trackBoxes = out.track_boxes;
      entry.tracks = out.tracks;
      if (state.add.current === out.input) drawFaces();
    }
    const file = `/api/jobs/${job.id}/outputs/${out.index}`;
    const u = uploadOf(kind, out.input);
    let shown;
    if (out.kind === "video") {
      shown = el("video", {src: file, controls: true, className: "output"});
    } else if (kind === "upscale" || kind === "translate") {
      shown = compareSlider(u ? `/api/uploads/${u.id}/view` : "", `${file}/view`);
    } else {
      shown = el("div", {className: "pair"},
        el("figure", {}, el("img", {src: u ? `/api/uploads/${u.id}/view` : "", alt: "input"}),
          el("figcaption", {textContent: "input"})),
        el("figure", {}, el("img", {src: `${file}/view`, alt: "result", className: "output"}),
          el("figcaption", {textContent: kind === "remove" ? "restored (synthesized)" : "result"})));
    }
    const notes = out.notes.map((n) => el("li", {textContent: n}));
    parts.push(el("div", {className: "output-item"}, el("h3", {textContent: out.name}), shown,
      download(`${file}?download=1`, `Download ${out.name}`), el("ul", {className: "notes"}, ...notes)));
  }
  if (job.outputs.length > 1) parts.push(download(`/api/jobs/${job.id}/zip`, "Download all (zip)"));
  for (const n of job.not_written) parts.push(el("p", {className: "hint", textContent: n}));
  if (!job.outputs.length) parts.push(el("p", {className: "hint", textContent: "Nothing was written."}));
  box.replaceChildren(...parts);
}

function compareSlider(before, after) {
  const range = el("input", {type: "range", min: 0, max: 100, value: 50, className: "compare-range",
    ariaLabel: "before / after"});
  const top = el("div", {className: "after"}, el("img", {src: after, alt: "result"}));
  const pictures = el("div", {className: "pictures"}, el("img", {src: before, alt: "input"}), top);
  const frame = el("div", {className: "compare"}, pictures, range,
    el("figcaption", {textContent: "left of the line: the input; right: the result (drag the slider)"}));
  range.addEventListener("input", () => { top.style.clipPath = `inset(0 0 0 ${range.value}%)`; });
  top.style.clipPath = "inset(0 0 0 50%)";
  return frame;
}

let polling = null;

async function poll() {
  const data = await api("GET", "/api/jobs").catch(() => null);
  if (!data) return;
  const rows = data.jobs.slice().reverse().map((job) => {
    const row = el("tr", {}, el("td", {textContent: job.title}), el("td", {textContent: job.state}),
      el("td", {}, progressBlock(job)), el("td"));
    row.dataset.job = job.id;
    if (job.state === "done") {
      row.lastChild.appendChild(download(`/api/jobs/${job.id}/zip`, "zip"));
    }
    return row;
  });
  $("#jobs tbody").replaceChildren(...rows);
  const live = data.jobs.filter((j) => j.state === "queued" || j.state === "running");
  $("#jobs-count").textContent = live.length ? `(${live.length})` : "";
  for (const job of data.jobs) {
    const w = watched.get(job.id);
    if (!w) continue;
    if (job.state === "queued" || job.state === "running") {
      w.update(job);
    } else {
      watched.delete(job.id);
      await w.end(job);
    }
  }
  clearTimeout(polling);
  polling = setTimeout(poll, watched.size ? 250 : live.length ? 1000 : 3000);
}

// ---- start ------------------------------------------------------------------------------
async function start() {
  for (const b of document.querySelectorAll("[role=tab]")) b.addEventListener("click", () => showTab(b.dataset.tab));
  info = await guarded(() => api("GET", "/api/info"));
  if (!info) return;
  $("#version").textContent = `v${info.version}`;
  $("#keep-minutes").textContent = info.limits.keep_minutes;
  $("#add-style").replaceChildren(...info.styles.map((s) => el("option", {value: s, textContent: s})));
  const models = (select, list, empty) => select.replaceChildren(...(list.length ? list : [empty]).map((m) =>
    el("option", {value: m.value, textContent: m.label})));
  models($("#upscale-model"), info.upscale_models, {value: "", label: "shipped x4"});
  models($("#translate-model"), info.translate_models, {value: "", label: "(none)"});
  $("#translate-none").hidden = info.translate_models.length > 0;

  addOverlay = new BoxOverlay($("#add-stage"), $("#add-view"), $("#add-overlay"));
  addOverlay.onDraw = (box) => {
    const entry = state.add.reviews[state.add.current];
    if (entry) { entry.review.also.push(box); drawFaces(); }
  };
  removeOverlay = new BoxOverlay($("#remove-stage"), $("#remove-view"), $("#remove-overlay"));
  $("#add-threshold").addEventListener("input", () => {
    $("#add-threshold-value").textContent = threshold().toFixed(2);
    drawFaces();
  });
  wireDrop("add", async (files) => {
    const done = await upload(files, "add");
    if (done.length) await select("add", done[0].id);
  });
  wireDrop("remove", async (files) => {
    const done = await upload(files, "remove");
    if (done.length) await select("remove", done[0].id);
  });
  wireDrop("upscale", (files) => upload(files, "upscale"));
  wireDrop("translate", (files) => upload(files, "translate"));
  $("#add-preview").addEventListener("click", () => state.add.current && runAdd([state.add.current]));
  $("#add-apply").addEventListener("click", () => runAdd(state.add.uploads.map((u) => u.id)));
  const simple = (kind, options) => async () => {
    const ids = state[kind].uploads.map((u) => u.id);
    if (!ids.length) { say("drop a file first"); return; }
    await submitJob(kind, ids, options());
  };
  $("#remove-apply").addEventListener("click", simple("remove", () => ({})));
  $("#upscale-apply").addEventListener("click", simple("upscale", () => ({model: $("#upscale-model").value || null})));
  $("#translate-apply").addEventListener("click", simple("translate", () => ({
    model: $("#translate-model").value || null, direction: $("#translate-direction").value})));
  document.body.dataset.ready = "1";
  poll();
}

document.addEventListener("DOMContentLoaded", start);
