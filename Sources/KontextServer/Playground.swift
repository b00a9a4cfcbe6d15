/// The playground served at `/`: one self-contained page (no build step, no CDN) that writes a
/// prompt, takes up to 4 images, sets the parameters, submits as a job, shows progress with the
/// live preview, and keeps the results in a gallery with their parameters and seeds.
enum Playground {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kontext playground</title>
<style>
  :root { --bg: #101114; --panel: #1a1c21; --line: #2c2f36; --text: #e8e8ea; --muted: #9a9ca3; --accent: #7aa2ff; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { padding: 14px 22px; border-bottom: 1px solid var(--line); display: flex; gap: 12px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header span { color: var(--muted); }
  main { display: grid; grid-template-columns: minmax(320px, 420px) 1fr; gap: 18px; padding: 18px 22px; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px; }
  label { display: block; color: var(--muted); font-size: 13px; margin: 10px 0 4px; }
  textarea, input, select { width: 100%; background: #0d0e11; color: var(--text); border: 1px solid var(--line); border-radius: 6px; padding: 8px; font: inherit; }
  textarea { min-height: 90px; resize: vertical; }
  .row { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
  #drop { margin-top: 6px; border: 1px dashed var(--line); border-radius: 8px; padding: 14px; text-align: center; color: var(--muted); cursor: pointer; }
  #drop.over { border-color: var(--accent); color: var(--text); }
  #thumbs { display: flex; gap: 8px; flex-wrap: wrap; margin-top: 8px; }
  #thumbs figure { margin: 0; position: relative; }
  #thumbs img { width: 72px; height: 72px; object-fit: cover; border-radius: 6px; border: 1px solid var(--line); }
  #thumbs button { position: absolute; top: 2px; right: 2px; padding: 0 6px; font-size: 12px; }
  button { background: var(--accent); color: #0b1020; border: 0; border-radius: 6px; padding: 9px 14px; font: inherit; font-weight: 600; cursor: pointer; }
  button.secondary { background: #2a2d35; color: var(--text); font-weight: 400; }
  button:disabled { opacity: .5; cursor: default; }
  #status { margin-top: 12px; color: var(--muted); min-height: 1.4em; }
  #status.error { color: #ff8a80; }
  progress { width: 100%; margin-top: 8px; }
  #preview { margin-top: 10px; max-width: 100%; border-radius: 8px; display: none; image-rendering: pixelated; }
  #gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 14px; }
  .card { background: #0d0e11; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
  .card img { width: 100%; display: block; }
  .card .meta { padding: 8px 10px; font-size: 12.5px; color: var(--muted); }
  .card .meta b { color: var(--text); font-weight: 500; }
  .card .actions { display: flex; gap: 6px; padding: 0 10px 10px; }
  .card .actions a, .card .actions button { font-size: 12.5px; padding: 5px 9px; }
  .card .actions a { color: var(--text); background: #2a2d35; border-radius: 6px; text-decoration: none; }
  #key { display: none; }
  .empty { color: var(--muted); }
</style>
</head>
<body>
<header><h1>Kontext</h1><span>FLUX.1 Kontext [dev] playground</span></header>
<main>
  <section>
    <form id="form">
      <div id="key">
        <label for="apikey">API key (this server requires one)</label>
        <input id="apikey" type="password" autocomplete="off" placeholder="sk-...">
      </div>
      <label for="prompt">Prompt</label>
      <textarea id="prompt" required placeholder="A lighthouse on a cliff at dusk, or: make it winter"></textarea>
      <label>Images to edit (up to 4; none for text-to-image)</label>
      <div id="drop">Drop images here or click to choose</div>
      <input id="files" type="file" accept="image/png,image/jpeg,image/webp" multiple hidden>
      <div id="thumbs"></div>
      <div class="row">
        <div><label for="size">Size</label>
          <select id="size">
            <option value="auto">auto</option><option>1024x1024</option><option>1024x768</option><option>768x1024</option>
            <option>512x512</option><option>256x256</option>
          </select></div>
        <div><label for="aspect">Aspect ratio</label>
          <select id="aspect">
            <option value="">(from size)</option><option>1:1</option><option>4:3</option><option>3:4</option><option>3:2</option>
            <option>2:3</option><option>16:9</option><option>9:16</option><option>21:9</option><option>9:21</option>
          </select></div>
      </div>
      <div class="row">
        <div><label for="steps">Steps</label><input id="steps" type="number" min="1" max="50" value="28"></div>
        <div><label for="guidance">Guidance</label><input id="guidance" type="number" min="0" max="20" step="0.1" value="2.5"></div>
      </div>
      <div class="row">
        <div><label for="seed">Seed (empty: random)</label><input id="seed" type="number" min="0" placeholder="random"></div>
        <div><label for="n">Images</label><input id="n" type="number" min="1" max="10" value="1"></div>
      </div>
      <div class="row">
        <div><label for="format">Format</label>
          <select id="format"><option>png</option><option>jpeg</option><option>webp</option><option>avif</option><option>gif</option></select></div>
        <div style="display:flex;align-items:end;gap:8px">
          <button id="go" type="submit">Generate</button>
          <button id="stop" class="secondary" type="button" disabled>Cancel</button>
        </div>
      </div>
      <div id="status"></div>
      <progress id="bar" value="0" max="1" hidden></progress>
      <img id="preview" alt="live preview">
    </form>
  </section>
  <section>
    <div id="gallery"><p class="empty" id="empty">Results appear here.</p></div>
  </section>
</main>
<script>
const $ = id => document.getElementById(id);
const images = [];
let currentJob = null;

function headers(extra = {}) {
  const key = $("apikey").value || localStorage.getItem("kontext-key") || "";
  return key ? { ...extra, Authorization: "Bearer " + key } : extra;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) { $("key").style.display = "block"; throw new Error("This server needs an API key."); }
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body;
}

function status(text, error = false) { $("status").textContent = text; $("status").className = error ? "error" : ""; }

function addFiles(list) {
  for (const file of list) {
    if (images.length >= 4) { status("At most 4 images.", true); break; }
    images.push(file);
  }
  renderThumbs();
}

function renderThumbs() {
  $("thumbs").innerHTML = "";
  images.forEach((file, index) => {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.src = URL.createObjectURL(file);
    const remove = document.createElement("button");
    remove.type = "button"; remove.className = "secondary"; remove.textContent = "×";
    remove.onclick = () => { images.splice(index, 1); renderThumbs(); };
    figure.append(img, remove);
    $("thumbs").append(figure);
  });
  $("go").textContent = images.length ? "Edit" : "Generate";
}

$("drop").onclick = () => $("files").click();
$("files").onchange = event => addFiles(event.target.files);
$("drop").ondragover = event => { event.preventDefault(); $("drop").classList.add("over"); };
$("drop").ondragleave = () => $("drop").classList.remove("over");
$("drop").ondrop = event => { event.preventDefault(); $("drop").classList.remove("over"); addFiles(event.dataTransfer.files); };
$("apikey").onchange = () => localStorage.setItem("kontext-key", $("apikey").value);

function parameters() {
  const values = {
    prompt: $("prompt").value, model: "flux.1-kontext-dev", num_inference_steps: $("steps").value, cfg_scale: $("guidance").value,
    n: $("n").value, output_format: $("format").value,
  };
  if ($("size").value !== "auto") values.size = $("size").value;
  if ($("aspect").value) values.aspect_ratio = $("aspect").value;
  if ($("seed").value !== "") values.seed = $("seed").value;
  return values;
}

async function submit(values, files) {
  let response;
  const prefer = { Prefer: "respond-async" };
  if (files.length) {
    const form = new FormData();
    for (const [name, value] of Object.entries(values)) form.append(name, value);
    for (const file of files) form.append("image[]", file);
    response = await api("/v1/images/edits", { method: "POST", body: form, headers: prefer });
  } else {
    const typed = { ...values, num_inference_steps: +values.num_inference_steps, cfg_scale: +values.cfg_scale, n: +values.n };
    if (values.seed !== undefined) typed.seed = +values.seed;
    response = await api("/v1/images/generations", { method: "POST", body: JSON.stringify(typed), headers: { ...prefer, "Content-Type": "application/json" } });
  }
  return response;
}

function watch(job, values, files) {
  currentJob = job.id;
  $("stop").disabled = false; $("go").disabled = true; $("bar").hidden = false; $("bar").value = 0;
  const source = new EventSource(`/v1/jobs/${job.id}/events?previews=true`);
  const started = performance.now();
  source.addEventListener("progress", event => {
    const data = JSON.parse(event.data);
    $("bar").max = data.total; $("bar").value = data.step;
    status(`Step ${data.step} of ${data.total} · ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (data.preview) { $("preview").src = data.preview; $("preview").style.display = "block"; }
  });
  const done = event => {
    source.close(); currentJob = null;
    $("stop").disabled = true; $("go").disabled = false; $("bar").hidden = true; $("preview").style.display = "none";
    const data = JSON.parse(event.data);
    if (data.status === "succeeded") {
      status(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
      data.result.data.forEach(item => addCard(item, data.result, values, files));
    } else if (data.status === "canceled") {
      status("Cancelled.");
    } else {
      status(data.error ? data.error.message : "The job failed.", true);
    }
  };
  for (const name of ["succeeded", "failed", "canceled"]) source.addEventListener(name, done);
  source.onerror = () => { if (currentJob) status("Lost the connection to the server; the job goes on.", true); };
}

function addCard(item, result, values, files) {
  $("empty")?.remove();
  const card = document.createElement("div"); card.className = "card";
  const img = document.createElement("img"); img.src = item.url || ("data:image/png;base64," + item.b64_json); img.alt = values.prompt;
  const meta = document.createElement("div"); meta.className = "meta";
  meta.innerHTML = `<b></b><br>${result.size} · seed ${item.seed} · ${values.num_inference_steps} steps · guidance ${values.cfg_scale} · ${result.output_format}`;
  meta.querySelector("b").textContent = values.prompt;
  const actions = document.createElement("div"); actions.className = "actions";
  const download = document.createElement("a"); download.href = img.src; download.download = `kontext-${item.seed}.${result.output_format}`; download.textContent = "Download";
  const again = document.createElement("button"); again.className = "secondary"; again.type = "button"; again.textContent = "Re-run";
  again.onclick = () => run({ ...values, seed: String(item.seed), n: "1" }, files);
  actions.append(download, again);
  card.append(img, meta, actions);
  $("gallery").prepend(card);
}

async function run(values, files) {
  try {
    status("Submitting…");
    const job = await submit(values, files);
    watch(job, values, files);
  } catch (error) {
    status(error.message, true);
  }
}

$("form").onsubmit = event => { event.preventDefault(); run(parameters(), [...images]); };
$("stop").onclick = async () => { if (currentJob) { try { await api(`/v1/jobs/${currentJob}/cancel`, { method: "POST" }); } catch (error) { status(error.message, true); } } };
if (localStorage.getItem("kontext-key")) { $("key").style.display = "block"; $("apikey").value = localStorage.getItem("kontext-key"); }
api("/v1/models").catch(error => status(error.message, true));
</script>
</body>
</html>
"""#
}
