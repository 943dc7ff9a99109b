/**
 * The web page served at GET /: pick or drop an image and see its top-3 labels as bars; search the
 * tagged images by label in a gallery.
 *
 * Self-contained (inline CSS and script, no CDN, no innerHTML: user data only ever goes through
 * textContent and attributes). Every URL of the API is relative ("health", "uploads", "image?key=...", "images?...",
 * "classify"), so it works under any base path, locally and on AWS. What it does depends on
 * /health's `features`:
 * - upload: the file goes POST uploads (a presigned S3 POST), then straight to S3 as a form (the
 *   policy's fields, the file last), then GET image?key=<key> is polled (every 500 ms, up to 60 s) until
 *   the tagger has written its status: one path for every size up to the image limit;
 * - without upload: the file is posted to classify (multipart field "image") as before;
 * - search: a search box and a gallery of thumbnails (presigned GET URLs, lazily loaded), with the
 *   label's score on each and a "More" button that follows the cursor. The box suggests labels,
 *   categories and synonyms as one types (GET images?suggest=, into a datalist); any word the API
 *   resolves works ("dogs", "狗"); a word that finds nothing shows the API's suggestions.
 * Categories (ImageNet-1k models) show under the labels. The 中文/English button switches the page's
 * words and the names of labels and categories (remembered in localStorage).
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Image tagger</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f5f6f8; }
  [hidden] { display: none !important; }
  main { max-width: 720px; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.5rem; margin-bottom: .25rem; }
  h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; }
  #drop { display: block; border: 2px dashed #8a94a6; border-radius: 12px; padding: 2rem; text-align: center;
          background: #fff; cursor: pointer; transition: background .15s; }
  #drop.over { background: #e7f0ff; border-color: #2f6fde; }
  #preview { max-width: 100%; max-height: 320px; margin-top: 1rem; border-radius: 8px; display: none; }
  #status, #found { min-height: 1.5em; margin: 1rem 0 .5rem; }
  #status.error, #found.error { color: #b3261e; }
  .row { margin: .5rem 0; }
  .row .name { display: flex; justify-content: space-between; font-weight: 600; }
  .bar { height: 12px; background: #dde2ea; border-radius: 6px; overflow: hidden; }
  .bar > span { display: block; height: 100%; background: #2f6fde; }
  #timing, #model { color: #5b6577; font-size: .9rem; }
  #model.meaningless { color: #b3261e; font-weight: 600; }
  #search-form { display: flex; gap: .5rem; }
  #search { flex: 1; font: inherit; padding: .4rem .6rem; border: 1px solid #8a94a6; border-radius: 8px; }
  button { font: inherit; padding: .4rem 1rem; border: 0; border-radius: 8px; background: #2f6fde; color: #fff;
           cursor: pointer; }
  button:disabled { background: #8a94a6; cursor: default; }
  #gallery { list-style: none; padding: 0; margin: 0; display: grid; gap: .75rem;
             grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); }
  .tile { background: #fff; border-radius: 8px; overflow: hidden; box-shadow: 0 1px 2px #0002; }
  .tile img { display: block; width: 100%; aspect-ratio: 1; object-fit: cover; background: #dde2ea; }
  .tile .caption { display: flex; justify-content: space-between; gap: .25rem; padding: .3rem .5rem 0;
                   font-weight: 600; font-size: .9rem; }
  .tile .file { padding: 0 .5rem .3rem; color: #5b6577; font-size: .75rem; overflow: hidden;
                text-overflow: ellipsis; white-space: nowrap; }
  #more { margin-top: .75rem; }
  #categories { display: flex; flex-wrap: wrap; gap: .35rem; margin: .5rem 0; }
  .chip { background: #e7f0ff; color: #1d3f85; border-radius: 999px; padding: .1rem .6rem; font-size: .85rem; }
  header { display: flex; justify-content: space-between; align-items: baseline; }
  #lang { background: #fff; color: #2f6fde; border: 1px solid #2f6fde; padding: .2rem .7rem; }
</style>
</head>
<body>
<main>
  <header><h1 data-i18n="title">Image tagger</h1><button id="lang" type="button">中文</button></header>
  <p id="model">Loading model information…</p>
  <label id="drop" for="file">
    <span data-i18n="drop"><strong>Drop an image here</strong> or click to choose a file (JPEG, PNG, WebP, GIF, AVIF, TIFF)</span>
    <input id="file" type="file" accept="image/*" hidden>
  </label>
  <img id="preview" alt="preview of the chosen image">
  <div id="status" role="status" aria-live="polite"></div>
  <div id="results"></div>
  <div id="categories" aria-label="categories"></div>
  <p id="timing"></p>
  <section id="find" hidden>
    <h2 data-i18n="find">Find images by label</h2>
    <form id="search-form" role="search">
      <input id="search" type="search" placeholder="a label, e.g. dog, golden retriever" maxlength="200"
             aria-label="label to search for" list="suggestions" autocomplete="off" required>
      <datalist id="suggestions"></datalist>
      <button id="go" type="submit" data-i18n="search">Search</button>
    </form>
    <div id="found" role="status" aria-live="polite"></div>
    <ul id="gallery"></ul>
    <button id="more" type="button" hidden data-i18n="more">More</button>
  </section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const drop = $('drop'), file = $('file'), preview = $('preview'), status = $('status');
  const results = $('results'), timing = $('timing');
  const setStatus = (text, isError) => { status.textContent = text; status.className = isError ? 'error' : ''; };
  const features = { search: false, upload: false };
  const errorText = (body, res) => body && body.error ? body.error.code + ': ' + body.error.message :
    'HTTP ' + res.status;
  const readJson = (res) => res.json().catch(() => ({}));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const mb = (bytes) => (bytes / 1e6).toFixed(1) + ' MB';

  // Language: the page's own words, and the names of labels and categories (their zh field).
  const WORDS = {
    zh: { title: '图像标注', drop: '把图片拖到这里，或点击选择文件', find: '按标签查找图片', search: '搜索',
          more: '更多', placeholder: '标签，例如：狗、金毛猎犬', categories: '类别' },
    en: { title: 'Image tagger', drop: '', find: 'Find images by label', search: 'Search', more: 'More',
          placeholder: 'a label, e.g. dog, golden retriever', categories: 'Categories' },
  };
  const saved = (() => { try { return localStorage.getItem('lang'); } catch { return null; } })();
  let lang = saved === 'zh' ? 'zh' : 'en';
  const englishDrop = document.querySelector('[data-i18n="drop"]').cloneNode(true);
  const nameOf = (l) => (lang === 'zh' && l.zh ? l.zh : l.label);
  const topLabels = (n, file) =>
    lang === 'zh' ? file + ' 的前 ' + n + ' 个标签' : (n === 1 ? 'Top label' : 'Top ' + n + ' labels') + ' for ' + file;
  const rerender = [];
  function applyLanguage() {
    document.documentElement.lang = lang === 'zh' ? 'zh-Hans' : 'en';
    $('lang').textContent = lang === 'zh' ? 'English' : '中文';
    for (const el of document.querySelectorAll('[data-i18n]')) {
      const key = el.getAttribute('data-i18n');
      if (key === 'drop' && lang === 'en') el.replaceChildren(...englishDrop.cloneNode(true).childNodes);
      else el.textContent = WORDS[lang][key];
    }
    $('search').placeholder = WORDS[lang].placeholder;
    for (const draw of rerender) draw();
  }
  $('lang').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    try { localStorage.setItem('lang', lang); } catch {}
    applyLanguage();
  });

  const ready = fetch('health').then((r) => r.json()).then((h) => {
    const m = h.model;
    $('model').textContent = 'Model ' + m.name + ' ' + m.version + ' (' +
      (typeof m.quantization === 'string' ? m.quantization : 'quantized') + ')' +
      (m.labelsMeaningful === false ? ' — synthetic random weights: its labels are MEANINGLESS' : '');
    if (m.labelsMeaningful === false) $('model').className = 'meaningless';
    features.search = Boolean(h.features && h.features.search);
    features.upload = Boolean(h.features && h.features.upload);
    $('find').hidden = !features.search;
  }).catch(() => { $('model').textContent = ''; });

  let shown = { labels: [], categories: [] };
  function showCategories(categories) {
    const box = $('categories');
    box.replaceChildren();
    if (!categories || categories.length === 0) return;
    const title = document.createElement('span');
    title.textContent = WORDS[lang].categories + ':';
    box.append(title);
    for (const c of categories) {
      const chip = document.createElement('span');
      chip.className = 'chip';
      chip.textContent = nameOf(c) + ' ' + (c.score * 100).toFixed(0) + '%';
      box.append(chip);
    }
  }
  function show(labels, categories) {
    shown = { labels, categories: categories || [] };
    results.replaceChildren();
    showLabels(labels);
    showCategories(shown.categories);
  }
  rerender.push(() => { if (shown.labels.length || shown.categories.length) show(shown.labels, shown.categories); });

  function showLabels(labels) {
    for (const l of labels) {
      const pct = (l.score * 100).toFixed(1) + '%';
      const row = document.createElement('div');
      row.className = 'row';
      const name = document.createElement('div');
      name.className = 'name';
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = nameOf(l);
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
  }

  async function classify(f) {
    setStatus('Classifying ' + f.name + '…');
    const form = new FormData();
    form.append('image', f, f.name);
    const started = performance.now();
    const res = await fetch('classify?topK=3', { method: 'POST', body: form });
    const body = await readJson(res);
    if (!res.ok) throw new Error(errorText(body, res));
    show(body.labels, body.categories);
    const t = body.timings;
    timing.textContent = 'Inference ' + t.inferMs.toFixed(1) + ' ms, decode ' + t.decodeMs.toFixed(1) +
      ' ms, server total ' + t.totalMs.toFixed(1) + ' ms, round trip ' + (performance.now() - started).toFixed(0) + ' ms';
    setStatus(topLabels(body.labels.length, f.name));
  }

  /** The text of an S3 XML error (Code: Message), read as data, never as markup. */
  async function s3Error(res) {
    try {
      const xml = new DOMParser().parseFromString(await res.text(), 'application/xml');
      const code = xml.querySelector('Code'), message = xml.querySelector('Message');
      if (code) return code.textContent + (message ? ': ' + message.textContent : '');
    } catch {}
    return 'HTTP ' + res.status;
  }

  /** GET image?key=<key> until the tagger has written a status: every 500 ms, for at most 60 s. */
  async function waitForTags(key) {
    const url = 'image?' + new URLSearchParams({ key }).toString();
    const deadline = performance.now() + 60000;
    for (;;) {
      const res = await fetch(url, { cache: 'no-store' });
      const body = await readJson(res);
      if (res.ok && body.status !== 'pending') return body;
      if (!res.ok && res.status !== 404) throw new Error(errorText(body, res));
      if (performance.now() > deadline) throw new Error('TimedOut: no tags after 60 s for ' + key);
      await sleep(500);
    }
  }

  async function upload(f) {
    setStatus('Uploading ' + f.name + ' (' + mb(f.size) + ')…');
    const started = performance.now();
    const res = await fetch('uploads', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filename: f.name, contentType: f.type || undefined, size: f.size }),
    });
    const grant = await readJson(res);
    if (!res.ok) throw new Error(errorText(grant, res));
    const form = new FormData();
    for (const [name, value] of Object.entries(grant.fields)) form.append(name, value);
    form.append('file', f, f.name);
    let put;
    try {
      put = await fetch(grant.url, { method: 'POST', body: form });
    } catch (err) {
      throw new Error('UploadFailed: the bucket did not take the file (' + (err.message || err) + ')');
    }
    if (!put.ok) throw new Error('UploadFailed: ' + (await s3Error(put)));
    const uploaded = performance.now();
    setStatus('Uploaded ' + f.name + '; waiting for its tags…');
    const info = await waitForTags(grant.key);
    const wait = 'upload ' + ((uploaded - started) / 1000).toFixed(1) + ' s, tags ' +
      ((performance.now() - uploaded) / 1000).toFixed(1) + ' s later';
    if (info.status !== 'ok') {
      timing.textContent = wait;
      throw new Error(info.status + ': the tagger could not label ' + f.name);
    }
    show(info.labels, info.categories);
    timing.textContent = 'Tagged by ' + (info.model || 'the tagger') + ': ' + wait + ' (' + mb(f.size) + ')';
    setStatus(topLabels(info.labels.length, f.name));
  }

  async function handle(f) {
    if (!f) return;
    show([], []);
    timing.textContent = '';
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(f);
    preview.style.display = 'block';
    try {
      await ready;
      await (features.upload ? upload(f) : classify(f));
    } catch (err) {
      setStatus(String(err.message || err), true);
    }
  }

  file.addEventListener('change', () => handle(file.files[0]));
  for (const type of ['dragenter', 'dragover']) drop.addEventListener(type, (e) => {
    e.preventDefault(); drop.classList.add('over');
  });
  for (const type of ['dragleave', 'drop']) drop.addEventListener(type, (e) => {
    e.preventDefault(); drop.classList.remove('over');
  });
  drop.addEventListener('drop', (e) => handle(e.dataTransfer.files[0]));

  // Search: one query at a time; a new search makes the answers of an older one irrelevant.
  const gallery = $('gallery'), more = $('more'), found = $('found');
  const normal = (text) => text.normalize('NFC').trim().replace(/\\s+/g, ' ').toLowerCase();
  let query = '', cursor, generation = 0, resolved;
  const items = [];

  function tile(item) {
    const li = document.createElement('li');
    li.className = 'tile';
    const img = document.createElement('img');
    img.loading = 'lazy';
    img.decoding = 'async';
    img.alt = item.key;
    img.src = item.url;
    const caption = document.createElement('div');
    caption.className = 'caption';
    const label = document.createElement('span');
    label.className = 'label';
    const term = normal(resolved ? resolved.term : query);
    const match = [...(item.labels || []), ...(item.categories || [])].find((l) => normal(l.label) === term);
    label.textContent = match ? nameOf(match) : query;
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = (item.score * 100).toFixed(1) + '%';
    caption.append(label, score);
    const name = document.createElement('div');
    name.className = 'file';
    name.textContent = item.key.slice(item.key.lastIndexOf('/') + 1);
    name.title = item.key;
    li.append(img, caption, name);
    return li;
  }

  async function loadMore() {
    const mine = generation;
    more.disabled = true;
    const params = new URLSearchParams({ label: query, limit: '24' });
    if (cursor) params.set('cursor', cursor);
    try {
      const res = await fetch('images?' + params.toString(), { cache: 'no-store' });
      const body = await readJson(res);
      if (mine !== generation) return;
      if (!res.ok) throw new Error(errorText(body, res));
      resolved = body.resolved;
      for (const item of body.items) { items.push(item); gallery.append(tile(item)); }
      cursor = body.cursor;
      more.hidden = !cursor;
      const n = gallery.children.length;
      const what = !resolved ? query : lang === 'zh' && resolved.zh ? resolved.zh :
        normal(resolved.term) === normal(query) ? query : resolved.term;
      const hints = (body.suggestions || []).map((s) => (lang === 'zh' && s.zh ? s.zh : s.word));
      found.textContent = n === 0 ? 'No image is labelled "' + what + '"' +
        (hints.length ? '. Try: ' + hints.join(', ') : '') :
        n + (cursor ? '+' : '') + ' image' + (n === 1 ? '' : 's') + ' labelled "' + what + '", best first';
      found.className = '';
    } catch (err) {
      if (mine !== generation) return;
      found.textContent = String(err.message || err);
      found.className = 'error';
    } finally {
      if (mine === generation) more.disabled = false;
    }
  }

  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    query = $('search').value.trim();
    if (!query) return;
    generation++;
    cursor = undefined;
    resolved = undefined;
    items.length = 0;
    gallery.replaceChildren();
    more.hidden = true;
    found.textContent = 'Searching…';
    found.className = '';
    loadMore();
  });
  more.addEventListener('click', () => loadMore());
  rerender.push(() => gallery.replaceChildren(...items.map(tile)));

  // Suggestions as one types: labels, categories and synonyms, in either language.
  let typed = 0, timer;
  $('search').addEventListener('input', () => {
    clearTimeout(timer);
    const text = $('search').value.trim();
    if (!features.search || !text) return;
    const mine = ++typed;
    timer = setTimeout(async () => {
      try {
        const res = await fetch('images?' + new URLSearchParams({ suggest: text }).toString());
        const body = await readJson(res);
        if (mine !== typed || !res.ok) return;
        $('suggestions').replaceChildren(...(body.suggestions || []).map((s) => {
          const option = document.createElement('option');
          option.value = s.word;
          option.label = s.kind === 'category' ? (s.zh ? s.term + ' · ' + s.zh : s.term) : (s.zh || s.term);
          return option;
        }));
      } catch {}
    }, 150);
  });
  applyLanguage();
})();
</script>
</body>
</html>
`;
