/**
 * The web page served at GET /: pick or drop an image, see it, get the top-3 labels as bars.
 * Self-contained (inline CSS and script, no CDN); it posts multipart/form-data (field "image") to
 * the relative URL "classify", so it works under any base path, locally and on AWS.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Image tagger</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f5f6f8; }
  main { max-width: 720px; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.5rem; margin-bottom: .25rem; }
  #drop { display: block; border: 2px dashed #8a94a6; border-radius: 12px; padding: 2rem; text-align: center;
          background: #fff; cursor: pointer; transition: background .15s; }
  #drop.over { background: #e7f0ff; border-color: #2f6fde; }
  #preview { max-width: 100%; max-height: 320px; margin-top: 1rem; border-radius: 8px; display: none; }
  #status { min-height: 1.5em; margin: 1rem 0 .5rem; }
  #status.error { color: #b3261e; }
  .row { margin: .5rem 0; }
  .row .name { display: flex; justify-content: space-between; font-weight: 600; }
  .bar { height: 12px; background: #dde2ea; border-radius: 6px; overflow: hidden; }
  .bar > span { display: block; height: 100%; background: #2f6fde; }
  #timing, #model { color: #5b6577; font-size: .9rem; }
  #model.meaningless { color: #b3261e; font-weight: 600; }
</style>
</head>
<body>
<main>
  <h1>Image tagger</h1>
  <p id="model">Loading model information…</p>
  <label id="drop" for="file">
    <strong>Drop an image here</strong> or click to choose a file (JPEG, PNG, WebP, GIF, AVIF, TIFF)
    <input id="file" type="file" accept="image/*" hidden>
  </label>
  <img id="preview" alt="preview of the chosen image">
  <div id="status" role="status" aria-live="polite"></div>
  <div id="results"></div>
  <p id="timing"></p>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const drop = $('drop'), file = $('file'), preview = $('preview'), status = $('status');
  const results = $('results'), timing = $('timing');
  const setStatus = (text, isError) => { status.textContent = text; status.className = isError ? 'error' : ''; };

  fetch('health').then((r) => r.json()).then((h) => {
    const m = h.model;
    $('model').textContent = 'Model ' + m.name + ' ' + m.version + ' (' +
      (typeof m.quantization === 'string' ? m.quantization : 'quantized') + ')' +
      (m.labelsMeaningful === false ? ' — synthetic random weights: its labels are MEANINGLESS' : '');
    if (m.labelsMeaningful === false) $('model').className = 'meaningless';
  }).catch(() => { $('model').textContent = ''; });

  async function classify(f) {
    if (!f) return;
    results.replaceChildren();
    timing.textContent = '';
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(f);
    preview.style.display = 'block';
    setStatus('Classifying ' + f.name + '…');
    const form = new FormData();
    form.append('image', f, f.name);
    try {
      const started = performance.now();
      const res = await fetch('classify?topK=3', { method: 'POST', body: form });
      const body = await res.json();
      if (!res.ok) throw new Error((body.error && body.error.code) + ': ' + (body.error && body.error.message));
      for (const l of body.labels) {
        const pct = (l.score * 100).toFixed(1) + '%';
        const row = document.createElement('div');
        row.className = 'row';
        const name = document.createElement('div');
        name.className = 'name';
        const label = document.createElement('span');
        label.className = 'label';
        label.textContent = l.label;
        const value = document.createElement('span');
        value.className = 'pct';
        value.textContent = pct;
        name.append(label, value);
        const bar = document.createElement('div');
        bar.className = 'bar';
        const fill = document.createElement('span');
        fill.style.width = Math.max(0.5, l.score * 100).toFixed(1) + '%';
        bar.append(fill);
        row.append(name, bar);
        results.append(row);
      }
      const t = body.timings;
      timing.textContent = 'Inference ' + t.inferMs.toFixed(1) + ' ms, decode ' + t.decodeMs.toFixed(1) +
        ' ms, server total ' + t.totalMs.toFixed(1) + ' ms, round trip ' + (performance.now() - started).toFixed(0) + ' ms';
      setStatus('Top ' + body.labels.length + ' labels for ' + f.name);
    } catch (err) {
      setStatus(String(err.message || err), true);
    }
  }

  file.addEventListener('change', () => classify(file.files[0]));
  for (const type of ['dragenter', 'dragover']) drop.addEventListener(type, (e) => {
    e.preventDefault(); drop.classList.add('over');
  });
  for (const type of ['dragleave', 'drop']) drop.addEventListener(type, (e) => {
    e.preventDefault(); drop.classList.remove('over');
  });
  drop.addEventListener('drop', (e) => classify(e.dataTransfer.files[0]));
})();
</script>
</body>
</html>
`;
