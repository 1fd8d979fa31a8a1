// The explorer's page: two maps drawn on canvases from /api/map, everything else from the API.
"use strict";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"];
const state = { info: null, map: null, hidden: new Set(), views: {}, picked: [], unusual: null, byScore: false };

async function getJSON(url, options) {
  const answer = await fetch(url, options);
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.detail || answer.statusText);
  return body;
}

function colour(label) {
  const labels = state.info.labels || [];
  const i = labels.indexOf(label);
  return i < 0 ? "#333" : PALETTE[i % PALETTE.length];
}

// One map: its points, a view (pan and zoom) and the conversions between data and pixels.
function makeView(id, points) {
  const canvas = document.getElementById(id);
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, y] of points) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  const pad = 0.05 * Math.max(x1 - x0, y1 - y0, 1e-6);
  const view = { id, canvas, points, box: [x0 - pad, x1 + pad, y0 - pad, y1 + pad] };
  view.toPixel = (x, y) => {
    const [a, b, c, d] = view.box;
    return [(x - a) / (b - a) * canvas.width, (d - y) / (d - c) * canvas.height];
  };
  view.toData = (px, py) => {
    const [a, b, c, d] = view.box;
    return [a + px / canvas.width * (b - a), d - py / canvas.height * (d - c)];
  };
  return view;
}

function draw(view) {
  const ctx = view.canvas.getContext("2d");
  ctx.clearRect(0, 0, view.canvas.width, view.canvas.height);
  if (view.overlay && view.overlay.box.join() === view.box.join()) {  // the decoded grid of this view
    ctx.globalAlpha = 0.85;
    ctx.drawImage(view.overlay.image, 0, 0, view.canvas.width, view.canvas.height);
    ctx.globalAlpha = 1;
  }
  const labels = state.map.labels;
  let drawn = 0;
  for (let i = 0; i < view.points.length; i++) {
    const label = labels ? labels[i] : null;
    if (label !== null && state.hidden.has(label)) continue;
    const [px, py] = view.toPixel(view.points[i][0], view.points[i][1]);
    if (px < 0 || py < 0 || px > view.canvas.width || py > view.canvas.height) continue;
    if (state.byScore && state.unusual) {  // blue (usual) to red (unusual) by rank; flagged items larger
      const flagged = state.unusual.scores[i] > state.unusual.cut;
      ctx.fillStyle = flagged ? "#d00" : `hsl(${(1 - state.unusual.rank[i]) * 220}, 70%, 45%)`;
      ctx.fillRect(px - (flagged ? 2 : 1), py - (flagged ? 2 : 1), flagged ? 4 : 2, flagged ? 4 : 2);
    } else {
      ctx.fillStyle = colour(label);
      ctx.fillRect(px - 1, py - 1, 2, 2);
    }
    drawn++;
  }
  view.canvas.dataset.drawn = String(drawn);
}

function nearest(view, px, py, radius) {
  let best = -1, bestD = radius * radius;
  const labels = state.map.labels;
  for (let i = 0; i < view.points.length; i++) {
    if (labels && state.hidden.has(labels[i])) continue;
    const [qx, qy] = view.toPixel(view.points[i][0], view.points[i][1]);
    const d = (qx - px) ** 2 + (qy - py) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best;
}

function figure(item, caption) {
  const f = document.createElement("figure");
  f.innerHTML = `<img width="56" height="56" src="/api/items/${item.position}/image.png" alt="">` +
    `<figcaption>${caption}</figcaption>`;
  f.onclick = () => pick(item.position);
  return f;
}

function besideChoice() {
  return document.getElementById("beside").value;
}

function showHits(title, found) {
  const box = document.getElementById("neighbours");
  box.innerHTML = `<h3>${title}</h3>`;
  const side = document.createElement("div");
  side.className = "side";
  for (const space of Object.keys(found)) {
    const column = document.createElement("div");
    column.innerHTML = `<h4>by ${space} (${found[space].score}, ${found[space].ms.toFixed(2)} ms)</h4>`;
    const hits = document.createElement("div");
    hits.className = "hits " + space;
    for (const item of found[space].items) hits.appendChild(figure(item, `${item.label ?? item.id} ${item.score.toFixed(3)}`));
    column.appendChild(hits);
    side.appendChild(column);
  }
  box.appendChild(side);
}

async function pick(position) {
  const item = await getJSON(`/api/items/${position}`);
  showHits(`nearest to item ${item.position} (${item.label ?? item.id})`,
           await getJSON(`/api/items/${position}/neighbours?k=10&beside=${besideChoice()}`));
  const rec = await getJSON(`/api/items/${position}/reconstruction`);
  document.getElementById("reconstruction").innerHTML = "<h3>reconstruction</h3>" + ["original", "ae", "pca"].map(
    (w) => `<figure style="display:inline-block;margin:0 6px"><img width="84" height="84" ` +
      `src="/api/items/${position}/reconstruction/${w}.png" alt=""><figcaption>${w}` +
      (w === "original" ? "" : ` ${rec.errors[w].toFixed(2)}`) + "</figcaption></figure>").join("");
  state.picked = [...state.picked, position].slice(-2);
  if (state.picked.length === 2) {
    const [a, b] = state.picked;
    document.getElementById("interpolation").innerHTML =
      `<h3>from item ${a} to item ${b}</h3><img id="line" src="/api/interpolation.png?a=${a}&b=${b}&steps=10" ` +
      `height="56" alt="">`;
  }
}

function attach(view, decodes) {
  const tip = document.getElementById("tip");
  const canvas = view.canvas;
  let drag = null;
  canvas.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect();
    const px = e.clientX - r.left, py = e.clientY - r.top;
    if (drag) {
      const [dx, dy] = [view.toData(drag[0], drag[1]), view.toData(px, py)];
      const [sx, sy] = [dx[0] - dy[0], dx[1] - dy[1]];
      view.box = [view.box[0] + sx, view.box[1] + sx, view.box[2] + sy, view.box[3] + sy];
      drag = [px, py];
      draw(view);
      return;
    }
    const i = nearest(view, px, py, 4);
    if (i >= 0) {
      const label = state.map.labels ? state.map.labels[i] : "";
      if (state.info.kind === "documents") {
        tip.textContent = `document ${i} ${label}`;
        describe(i).then((d) => { if (tip.dataset.item === String(i)) tip.textContent = `${label}: ${d.first_line}`; });
      } else {
        tip.innerHTML = `<img width="56" height="56" src="/api/items/${i}/image.png" alt=""><br>` +
          `<span class="caption">item ${i} ${label}</span>`;
        describe(i).then((d) => {
          const caption = tip.querySelector(".caption");
          if (caption && tip.dataset.item === String(i)) caption.textContent = `${d.id} (item ${i}) ${label}`;
        });
      }
      tip.style.left = e.clientX + 12 + "px";
      tip.style.top = e.clientY + 12 + "px";
      tip.style.display = "block";
      tip.dataset.item = String(i);
    } else {
      tip.style.display = "none";
      if (decodes && e.buttons === 0 && e.shiftKey) decodeAt(view, px, py);
    }
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; drag = null; });
  canvas.addEventListener("mousedown", (e) => { if (e.altKey) { const r = canvas.getBoundingClientRect(); drag = [e.clientX - r.left, e.clientY - r.top]; } });
  canvas.addEventListener("mouseup", () => { drag = null; });
  canvas.addEventListener("click", (e) => {
    if (e.altKey) return;
    const r = canvas.getBoundingClientRect();
    const px = e.clientX - r.left, py = e.clientY - r.top;
    const i = nearest(view, px, py, 4);
    if (i >= 0 && state.info.kind !== "documents") pick(i);
    else if (i < 0 && decodes) decodeAt(view, px, py);
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    const [cx, cy] = view.toData(e.clientX - r.left, e.clientY - r.top);
    const f = e.deltaY > 0 ? 1.2 : 1 / 1.2;
    const [a, b, c, d] = view.box;
    view.box = [cx + (a - cx) * f, cx + (b - cx) * f, cy + (c - cy) * f, cy + (d - cy) * f];
    draw(view);
  }, { passive: false });
}

function decodeAt(view, px, py) {
  const [x, y] = view.toData(px, py);
  const img = document.getElementById("decoded");
  img.src = `/api/decode.png?x=${x}&y=${y}`;
  img.dataset.point = `${x},${y}`;
}

function legend() {
  const box = document.getElementById("legend");
  box.innerHTML = "";
  for (const label of state.info.labels || []) {
    const s = document.createElement("span");
    s.textContent = "● " + label;
    s.style.color = colour(label);
    s.onclick = () => {
      state.hidden.has(label) ? state.hidden.delete(label) : state.hidden.add(label);
      s.classList.toggle("off");
      Object.values(state.views).forEach(draw);
    };
    box.appendChild(s);
  }
}

// --- unusual items: the ranking, a threshold slider, the maps coloured by score -------------------
function flag() {
  const u = state.unusual;
  const flagged = u.scores.filter((s) => s > u.cut).length;
  const share = (100 * flagged / u.scores.length).toFixed(1);
  document.getElementById("flagged").textContent =
    `${flagged} of ${u.scores.length} items flagged (${share}%) above ${u.cut.toFixed(3)}` +
    (u.cut === u.threshold ? ` (the model's threshold, contamination ${u.contamination})` : "");
  document.getElementById("flagged").dataset.flagged = String(flagged);
  for (const f of document.querySelectorAll("#unusual-items figure")) {
    f.classList.toggle("flagged", Number(f.dataset.score) > u.cut);
  }
  if (state.byScore) Object.values(state.views).forEach(draw);
}

async function unusualPanel() {
  if (!state.info.anomalies) return;
  const u = await getJSON("/api/unusual?k=24");
  const order = u.scores.map((s, i) => [s, i]).sort((a, b) => a[0] - b[0]);
  u.rank = new Array(u.scores.length);
  order.forEach(([, i], r) => { u.rank[i] = r / Math.max(order.length - 1, 1); });
  u.cut = u.threshold;
  state.unusual = u;
  const slider = document.getElementById("threshold");
  const low = order[0][0], high = order[order.length - 1][0];
  slider.min = String(Math.min(low, u.threshold));
  slider.max = String(Math.max(high, u.threshold));
  slider.value = String(u.threshold);
  slider.oninput = () => { u.cut = Number(slider.value); flag(); };
  document.getElementById("by-score").onchange = (e) => {
    state.byScore = e.target.checked;
    Object.values(state.views).forEach(draw);
  };
  const box = document.getElementById("unusual-items");
  box.innerHTML = "";
  for (const item of u.ranked) {
    const f = document.createElement("figure");
    f.dataset.score = String(item.score);
    f.innerHTML = `<img width="56" height="56" src="/api/items/${item.position}/image.png" alt="">` +
      `<img width="56" height="56" src="/api/items/${item.position}/error.png" alt="">` +
      `<figcaption>${escape(String(item.label ?? item.id))} ${item.score.toFixed(2)}</figcaption>`;
    f.onclick = () => pick(item.position);
    box.appendChild(f);
  }
  document.getElementById("unusual").hidden = false;
  flag();
}

// --- documents: a query box, the nearest documents with the predicted topic, the maps ----------
const described = new Map();  // item number -> its id, label (and a document's first line)

async function describe(i) {
  if (!described.has(i)) described.set(i, await getJSON(`/api/items/${i}`));
  return described.get(i);
}

function escape(text) {
  const d = document.createElement("div");
  d.textContent = text;
  return d.innerHTML;
}

async function searchDocuments(query) {
  const box = document.getElementById("neighbours");
  try {
    const found = await getJSON(`/api/search?k=10&q=${encodeURIComponent(query)}`);
    const topics = found.topics.slice(0, 5).map(([t, s]) => `${escape(t)} ${(100 * s).toFixed(0)}%`).join(", ");
    box.innerHTML = `<h3>nearest documents (by ${escape(found.score)}; ${found.ms.toFixed(1)} ms; ` +
      `${found.words_used} of ${found.words} ` +
      `words used)</h3><p id="topics">predicted topic: ${topics || "none"}</p><ol class="documents">` +
      found.hits.map((h) => `<li>${escape(h.label ?? "")} <b>${h.score.toFixed(3)}</b> ${escape(h.first_line)}</li>`).join("") +
      "</ol>";
  } catch (err) {
    box.textContent = err.message;
  }
}

async function documentsPage() {
  document.body.classList.add("documents");
  const names = Object.keys(state.map.maps);
  document.getElementById("ae-title").textContent = `${names[0]}: ${state.map.view}`;
  state.views.ae = makeView("ae", state.map.maps[names[0]]);
  if (names.length > 1) {
    document.getElementById("pca-title").textContent = `${names[1]}: ${state.map.view}`;
    state.views.pca = makeView("pca", state.map.maps[names[1]]);
  } else {
    document.getElementById("pca").parentElement.hidden = true;
  }
  const form = document.getElementById("query-form");
  form.hidden = false;
  form.onsubmit = (e) => { e.preventDefault(); searchDocuments(document.getElementById("query").value); };
}

async function main() {
  const started = performance.now();
  state.info = await getJSON("/api/info");
  state.map = await getJSON("/api/map");
  if (state.info.kind === "documents") {
    document.getElementById("title").textContent = `aelab explorer: ${state.info.name}`;
    document.getElementById("summary").textContent =
      `${state.info.items.toLocaleString()} documents, ${state.info.code_size}-D codes; hover a point for its first line`;
    await documentsPage();
    legend();
    Object.values(state.views).forEach(draw);
    Object.values(state.views).forEach((v) => attach(v, false));
    document.body.dataset.drawnMs = String(Math.round(performance.now() - started));
    document.body.dataset.ready = "1";
    return;
  }
  document.getElementById("title").textContent = `aelab explorer: ${state.info.name}`;
  document.getElementById("summary").textContent =
    `${state.info.items.toLocaleString()} items, ${state.info.code_size}-D codes; click a point for its neighbours, ` +
    "empty space to decode there, the wheel to zoom, alt-drag to pan";
  document.getElementById("ae-title").textContent = `auto-encoder: ${state.map.ae_view}`;
  document.getElementById("pca-title").textContent = `PCA: ${state.map.pca_view}`;
  state.views.ae = makeView("ae", state.map.ae);
  state.views.pca = makeView("pca", state.map.pca);
  legend();
  Object.values(state.views).forEach(draw);
  attach(state.views.ae, true);
  attach(state.views.pca, false);
  document.getElementById("grid").onclick = () => {  // decoded images at a grid over the visible area
    const view = state.views.ae;
    const box = [...view.box];
    const image = new Image();
    image.onload = () => { view.overlay = { image, box }; draw(view); view.canvas.dataset.overlay = "1"; };
    image.src = `/api/grid.png?x0=${box[0]}&x1=${box[1]}&y0=${box[2]}&y1=${box[3]}&n=12`;
  };
  const upload = async (file) => {
    const form = new FormData();
    form.append("file", file);
    try {
      showHits("nearest to the uploaded image",
               await getJSON(`/api/neighbours?k=10&beside=${besideChoice()}`, { method: "POST", body: form }));
    } catch (err) {
      document.getElementById("neighbours").textContent = err.message;
    }
  };
  document.getElementById("upload").onchange = (e) => upload(e.target.files[0]);
  await unusualPanel();
  document.body.addEventListener("dragover", (e) => e.preventDefault());
  document.body.addEventListener("drop", (e) => {  // an image file dropped anywhere on the page
    e.preventDefault();
    if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
  });
  document.body.dataset.drawnMs = String(Math.round(performance.now() - started));
  document.body.dataset.ready = "1";
}

main().catch((err) => { document.getElementById("summary").textContent = "error: " + err.message; });
