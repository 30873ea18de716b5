// wenshu studio: lint, variable tree, preview, save and version diff, all through the public API.
// Rules kept here: every value from the server or the user is shown with textContent (never
// innerHTML); the key lives in sessionStorage and travels only in the Authorization header; images
// are fetched with that header and shown as blob: URLs (the key never goes into a URL).
"use strict";

const KEY_SLOT = "wenshu.studio.key";
const WAIT_SECONDS = 60;
const state = { name: "", version: "", file: null, lint: null, stored: false };

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function status(text, isError) {
  const node = $("status");
  node.textContent = text;
  node.className = isError ? "error" : "";
}

function authHeaders() {
  const key = sessionStorage.getItem(KEY_SLOT);
  return key ? { Authorization: "Bearer " + key } : {};
}

// Fetch an API path; a problem+json answer becomes an Error whose message says what and where.
async function api(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = Object.assign({}, authHeaders(), opts.headers || {});
  const response = await fetch(path, opts);
  const type = response.headers.get("Content-Type") || "";
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    if (type.includes("json")) {
      const body = await response.json();
      message = (body.title || message) + ": " + (body.detail || "");
      (body.errors || []).forEach((e) => {
        message += "\n  " + [e.path, e.part, e.paragraph && "¶" + e.paragraph, e.tag, e.message]
          .filter(Boolean).join(" · ");
      });
    }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  if (type.includes("json")) return response.json();
  return response.blob();
}

async function guarded(label, work) {
  status(label + "…");
  try {
    await work();
    status(label + ": done");
  } catch (error) {
    status(label + " failed — " + error.message, true);
  }
}

// ---- key -----------------------------------------------------------------------------------
function useKey(event) {
  event.preventDefault();
  sessionStorage.setItem(KEY_SLOT, $("key").value.trim());
  $("key").value = "";
  guarded("Loading templates", loadTemplateList);
}

// ---- templates -----------------------------------------------------------------------------
async function loadTemplateList() {
  const list = await api("/v1/templates");
  const select = $("template-select");
  clear(select);
  select.appendChild(new Option("— pick a stored template —", ""));
  list.forEach((t) => select.appendChild(new Option(t.name + " — " + (t.title || ""), t.name)));
}

async function openStored() {
  const name = $("template-select").value;
  if (!name) throw new Error("pick a template first");
  const detail = await api("/v1/templates/" + encodeURIComponent(name));
  const file = await api("/v1/templates/" + encodeURIComponent(name) + "/file");
  Object.assign(state, { name: name, version: detail.version, file: file, stored: true });
  resetOutputs();
  $("name").value = name;
  $("schema").value = detail.schema ? JSON.stringify(detail.schema, null, 2) : "";
  showCurrent();
  await lint();
  let sample = null;
  try {
    sample = await api("/v1/templates/" + encodeURIComponent(name) + "/sample");
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  fillData(sample);
  showVersions(detail.versions || []);
}

async function openDropped(file) {
  if (!file) return;
  state.file = file;
  state.stored = false;
  state.version = "";
  // A name the registry accepts (^[a-z0-9][a-z0-9._-]{0,63}$), suggested from the file name.
  state.name = file.name.replace(/\.docx$/i, "").toLowerCase().replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "").slice(0, 64) || "draft";
  $("name").value = state.name;
  resetOutputs();
  showCurrent();
  await lint();
  fillData(null);
}

// A newly opened template starts clean: no preview, warnings or diff of the previous one.
function resetOutputs() {
  ["pages", "warnings", "diff-pages", "versions", "diff-from", "diff-to"].forEach((id) => clear($(id)));
  ["job-id", "diff-summary", "save-result"].forEach((id) => { $(id).textContent = ""; });
  delete $("job-id").dataset.job;
}

function showCurrent() {
  const where = state.stored ? "stored " + state.name + " @ " + state.version : "dropped file " + state.file.name;
  $("current").textContent = where;
}

// ---- lint and variables ----------------------------------------------------------------------
async function lint() {
  const form = new FormData();
  form.append("file", state.file, "template.docx");
  state.lint = await api("/v1/templates/lint", { method: "POST", body: form });
  const report = state.lint;
  const problems = $("problems");
  clear(problems);
  $("lint-summary").textContent = report.ok ? "No tag problems." : report.problems.length + " problem(s):";
  report.problems.forEach((p) => {
    const where = [p.part, p.paragraph ? "¶" + p.paragraph : null, p.tag].filter(Boolean).join(" · ");
    const item = el("li");
    item.appendChild(el("span", where, "where"));
    item.appendChild(el("span", p.message, "message"));
    problems.appendChild(item);
  });
  showVariables(report);
}

function treeNode(node) {
  const item = el("li");
  item.appendChild(el("code", node.path || node.name));
  if (node.kind) item.appendChild(el("span", node.kind, "kind"));
  if (node.children && node.children.length) {
    const list = el("ul");
    node.children.forEach((child) => list.appendChild(treeNode(child)));
    item.appendChild(list);
  }
  return item;
}

function showVariables(report) {
  const box = $("variables");
  clear(box);
  const list = el("ul", null, "tree");
  if (Array.isArray(report.variable_tree)) {
    report.variable_tree.forEach((node) => list.appendChild(treeNode(node)));
  } else {
    (report.variables || []).forEach((name) => list.appendChild(treeNode({ name: name })));
  }
  box.appendChild(list);
}

function fillData(sample) {
  const skeleton = state.lint && state.lint.skeleton ? state.lint.skeleton.sample : null;
  const data = sample !== null && sample !== undefined ? sample : skeleton || {};
  $("data").value = JSON.stringify(data, null, 2);
}

function editorData() {
  try {
    return JSON.parse($("data").value || "{}");
  } catch (error) {
    throw new Error("the data is not valid JSON: " + error.message);
  }
}

// ---- preview ---------------------------------------------------------------------------------
async function waitForJob(job) {
  while (job.status === "queued" || job.status === "started") {
    job = await api("/v1/renders/" + job.id + "?wait=" + WAIT_SECONDS);
  }
  if (job.status !== "finished") {
    const error = job.error || {};
    throw new Error("render " + job.status + ": " + (error.detail || error.title || ""));
  }
  return job;
}

async function renderWith(version, data) {
  if (state.stored || version) {
    const body = { template: state.name, data: data, formats: ["pdf"] };
    if (version) body.template_version = version;
    return api("/v1/renders?wait=" + WAIT_SECONDS, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    }).then(waitForJob);
  }
  const form = new FormData();
  form.append("template", state.file, "template.docx");
  form.append("data", JSON.stringify(data));
  form.append("options", JSON.stringify({ formats: ["pdf"] }));
  return api("/v1/renders?wait=" + WAIT_SECONDS, { method: "POST", body: form }).then(waitForJob);
}

async function showImages(box, urls, captions) {
  clear(box);
  for (let i = 0; i < urls.length; i += 1) {
    const blob = await api(urls[i]);
    const figure = el("figure");
    const img = el("img");
    img.src = URL.createObjectURL(blob);
    img.alt = captions[i];
    img.title = "click to see it full size";
    img.addEventListener("click", () => img.classList.toggle("zoom"));
    figure.appendChild(img);
    figure.appendChild(el("figcaption", captions[i]));
    box.appendChild(figure);
  }
}

async function preview() {
  if (!state.file) throw new Error("open or drop a template first");
  const job = await renderWith("", editorData());
  $("job-id").textContent = "render " + job.id;
  $("job-id").dataset.job = job.id;
  const warnings = $("warnings");
  clear(warnings);
  (job.warnings || []).forEach((w) => {
    const where = [w.path, w.part, w.paragraph ? "¶" + w.paragraph : null, w.tag].filter(Boolean).join(" · ");
    const message = w.message || JSON.stringify(w);
    // Messages that already say where (part, paragraph, tag) are shown as they are.
    warnings.appendChild(el("li", where && !(w.part && message.includes(w.part)) ? where + " — " + message : message));
  });
  const pages = await api("/v1/renders/" + job.id + "/pages");
  await showImages($("pages"), pages.pages, pages.pages.map((_, i) => "page " + (i + 1)));
}

// ---- save and versions -------------------------------------------------------------------------
async function save() {
  if (!state.file) throw new Error("open or drop a template first");
  const name = $("name").value.trim();
  if (!name) throw new Error("give the template a name");
  const form = new FormData();
  form.append("file", state.file, "template.docx");
  form.append("sample", JSON.stringify(editorData()));
  const schema = $("schema").value.trim();
  if (schema) form.append("schema", schema);
  const result = await api("/v1/templates/" + encodeURIComponent(name), { method: "PUT", body: form });
  $("save-result").textContent = (result.created ? "saved new version " : "unchanged, version ") + result.version;
  Object.assign(state, { name: name, version: result.version, stored: true });
  showCurrent();
  const detail = await api("/v1/templates/" + encodeURIComponent(name));
  showVersions(detail.versions || []);
  await loadTemplateList();
}

function useSkeletonSchema() {
  const skeleton = state.lint && state.lint.skeleton;
  if (!skeleton) throw new Error("the lint result has no skeleton for this template");
  $("schema").value = JSON.stringify(skeleton.schema, null, 2);
}

function showVersions(versions) {
  const list = $("versions");
  clear(list);
  versions.forEach((v) => list.appendChild(el("li", v + (v === state.version ? " (latest)" : ""))));
  [$("diff-from"), $("diff-to")].forEach((select, which) => {
    clear(select);
    versions.forEach((v) => select.appendChild(new Option(v, v)));
    if (versions.length) select.value = versions[which === 0 ? Math.max(0, versions.length - 2) : versions.length - 1];
  });
}

async function diff() {
  const from = $("diff-from").value;
  const to = $("diff-to").value;
  if (!from || !to) throw new Error("save at least one version first");
  const data = editorData();
  const [a, b] = await Promise.all([renderWith(from, data), renderWith(to, data)]);
  const result = await api("/v1/renders/" + a.id + "/compare/" + b.id);
  const regions = result.pages.reduce((n, p) => n + p.regions.length, 0);
  $("diff-summary").textContent = result.changed
    ? regions + " changed region(s) on " + result.pages.filter((p) => p.changed).length + " page(s) (" + from + " → " + to + ")"
    : "no visible change (" + from + " → " + to + ")";
  // Each changed page twice: as it was (from), and as it is now with the changed regions boxed (to).
  const urls = [];
  const captions = [];
  result.pages.filter((p) => p.changed).forEach((p) => {
    if (p.page <= result.from_pages) {
      urls.push("/v1/renders/" + a.id + "/pages/" + p.page + ".png");
      captions.push("page " + p.page + " of " + from);
    }
    urls.push(p.image);
    captions.push("page " + p.page + " of " + to + ", " + p.regions.length + " change(s) boxed");
  });
  await showImages($("diff-pages"), urls, captions);
}

// ---- wiring ------------------------------------------------------------------------------------
function wire() {
  $("key-form").addEventListener("submit", useKey);
  $("refresh-templates").addEventListener("click", () => guarded("Loading templates", loadTemplateList));
  $("load-template").addEventListener("click", () => guarded("Opening", openStored));
  $("file").addEventListener("change", (e) => guarded("Linting", () => openDropped(e.target.files[0])));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    guarded("Linting", () => openDropped(e.dataTransfer.files[0]));
  });
  $("preview").addEventListener("click", () => guarded("Preview", preview));
  $("save").addEventListener("click", () => guarded("Saving", save));
  $("use-skeleton-schema").addEventListener("click", () => guarded("Schema", async () => useSkeletonSchema()));
  $("diff").addEventListener("click", () => guarded("Comparing", diff));
  guarded("Loading templates", loadTemplateList);  // without a key yet: says that one is needed
}

document.addEventListener("DOMContentLoaded", wire);
