/**
 * The web page served at GET /: drop or pick images (up to 50 at once) and read their labels; search
 * the tagged images by label; open any image in its own detail view.
 *
 * Self-contained (inline CSS and script, no CDN, no innerHTML: user data only ever goes through
 * textContent and attributes). Every URL of the API is relative ("health", "uploads", "image",
 * "images", "classify"), so it works under any base path, locally and on AWS. What it does depends on
 * /health's `features`:
 * - upload: each file gets its own card; it goes POST uploads (a presigned S3 POST), then straight to
 *   S3 as a form (the policy's fields, the file last), then its record (imageUrl below) is polled
 *   (every 500 ms, up to 60 s) until the tagger has written its status. At most UPLOAD_WORKERS files
 *   are in flight at once; a file that fails shows why on its card and the others go on. A file the
 *   browser does not call an image is refused on its card, before anything is sent;
 * - without upload: each file is posted to classify (multipart field "image"), one after another;
 * - similar: a photo dropped on the search box finds the images like it (POST similar); the detail
 *   view shows the image's copies (same file, or the same photo edited) and a strip of similar images
 *   that are not copies of it (GET image/duplicates and image/similar), each a link to its own view; a
 *   line under the strip says how many copies it leaves out and leads to them;
 * - search: a search box and a gallery of thumbnails (presigned GET URLs, lazily loaded), with the
 *   label's score on each and a "More" button that follows the cursor. The box suggests labels,
 *   categories and synonyms as one types (GET images?suggest=, into a datalist); any word the API
 *   resolves works ("dogs", "狗"); a word that finds nothing shows the API's suggestions. The shown
 *   results are searched again whenever one of this page's uploads is tagged.
 *   A search item that stands for copies of one photo (its "copies") is one tile with a "+N copies"
 *   badge, which opens its detail view at its duplicates.
 * The detail view (?image=<key>, its own URL: shareable, the back button works) shows the image, its
 * labels and categories, the user's own tags, status and model; its sections for similar images,
 * duplicates, colours and taught names are filled by the PARTS of the script (see there).
 * The duplicate groups view (?view=duplicates, with vectors): GET duplicates, a card per group of
 * copies (the representative first, then each copy with its tier and similarity), More pages on.
 * Taught names (features.names, else features.similar): an editor (cognito:groups of the access token)
 * ticks tiles of search results or of a detail view's similar strip (3 to 100), types a name in the
 * bar that appears and "Name these" PUTs labels/<name>; the bar says what the name was understood
 * as ("dog, like these") and how many stored images carry it. The names view (?view=names, GET
 * labels) lists them, each with a search by it and, for editors, Delete (DELETE labels/<name>).
 * Viewers and members get no teach or delete controls; a 403 says that only editors may. Names an
 * image carries show on its tiles and in its detail view, as its labels do. Any other 403 (a viewer's
 * photo dropped on the search box, or a user whose groups changed) says in the page's language what
 * the account is and what it would need (the API's `role` and `needs`); the page first refreshes its
 * tokens, and when the groups changed it redraws for them and sends the request once more.
 * Sign-in: when /health names a user pool (`signIn`: its API endpoint and app client), the page shows
 * only a sign-in form until the user signs in with e-mail and password (InitiateAuth
 * USER_PASSWORD_AUTH against the pool's own API: Cognito on AWS, cognito-local locally). The tokens
 * stay in sessionStorage (this tab only), every API request carries the access token as
 * Authorization, it is refreshed (REFRESH_TOKEN_AUTH) 5 minutes before it expires, a 401 ends the
 * session with a clear "session expired" and the form again, and "Sign out" revokes the refresh
 * token and forgets them. Without `signIn` (the public demo) there is no form.
 * The 中文/English button switches every word of the page, the names of labels and categories (their
 * zh field) and the error messages; the choice is remembered in localStorage (the first visit follows
 * the browser's language).
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
  main { max-width: 760px; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
  h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; }
  h3 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
  a { color: #2f6fde; }
  header { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: baseline; gap: .5rem 1rem; }
  header h1, header button { white-space: nowrap; }
  #who-name { overflow-wrap: anywhere; }
  #lang { background: #fff; color: #2f6fde; border: 1px solid #2f6fde; padding: .2rem .7rem; }
  #model { color: #5b6577; font-size: .9rem; }
  #model.meaningless { color: #b3261e; font-weight: 600; }
  #drop { display: block; border: 2px dashed #8a94a6; border-radius: 12px; padding: 2rem; text-align: center;
          background: #fff; cursor: pointer; transition: background .15s; }
  #drop.over { background: #e7f0ff; border-color: #2f6fde; }
  #status, #found, #detail-status { min-height: 1.5em; margin: 1rem 0 .5rem; }
  .error, #status.error, #found.error { color: #b3261e; }
  #uploads { list-style: none; padding: 0; margin: 0; display: grid; gap: .75rem; }
  .card { display: flex; gap: .75rem; background: #fff; border-radius: 8px; padding: .6rem;
          box-shadow: 0 1px 2px #0002; }
  .card .thumb, .card .nothumb { flex: none; width: 96px; height: 96px; border-radius: 6px; object-fit: cover;
                                 background: #dde2ea; }
  .card .nothumb { display: flex; align-items: center; justify-content: center; color: #5b6577;
                   font-size: .8rem; text-align: center; overflow: hidden; }
  .card .body { flex: 1; min-width: 0; }
  .card .file { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .card .state { font-size: .9rem; color: #5b6577; }
  .card.failed .state { color: #b3261e; }
  .timing { color: #5b6577; font-size: .85rem; margin: .25rem 0 0; }
  .row { margin: .4rem 0; }
  .row .name { display: flex; justify-content: space-between; gap: .5rem; font-weight: 600; }
  .bar { height: 10px; background: #dde2ea; border-radius: 5px; overflow: hidden; }
  .bar > span { display: block; height: 100%; background: #2f6fde; }
  .categories { display: flex; flex-wrap: wrap; gap: .35rem; margin: .5rem 0; align-items: center; }
  .chip { background: #e7f0ff; color: #1d3f85; border-radius: 999px; padding: .1rem .6rem; font-size: .85rem; }
  .swatches { display: flex; flex-wrap: wrap; gap: .5rem 1rem; margin: .5rem 0; }
  .swatch { display: inline-flex; align-items: center; gap: .35rem; font-size: .9rem; }
  .swatch i { display: inline-block; width: 1.1rem; height: 1.1rem; border-radius: 4px; border: 1px solid #8a94a6; }
  #search-form { display: flex; gap: .5rem; }
  #search { flex: 1; min-width: 0; font: inherit; padding: .4rem .6rem; border: 1px solid #8a94a6; border-radius: 8px; }
  button { font: inherit; padding: .4rem 1rem; border: 0; border-radius: 8px; background: #2f6fde; color: #fff;
           cursor: pointer; }
  button:disabled { background: #8a94a6; cursor: default; }
  .gallery { list-style: none; padding: 0; margin: 0; display: grid; gap: .75rem;
             grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); }
  .tile { background: #fff; border-radius: 8px; overflow: hidden; box-shadow: 0 1px 2px #0002; }
  .tile a { color: inherit; text-decoration: none; display: block; }
  .tile a:hover, .tile a:focus-visible { outline: 2px solid #2f6fde; outline-offset: -2px; border-radius: 8px; }
  .strip { grid-template-columns: repeat(auto-fill, minmax(9rem, 1fr)); }
  .tile img { display: block; width: 100%; aspect-ratio: 1; object-fit: cover; background: #dde2ea; }
  .tile .caption { display: flex; justify-content: space-between; gap: .25rem; padding: .3rem .5rem 0;
                   font-weight: 600; font-size: .9rem; }
  .tile .file { padding: 0 .5rem .3rem; color: #5b6577; font-size: .75rem; overflow: hidden;
                text-overflow: ellipsis; white-space: nowrap; }
  #more { margin-top: .75rem; }
  #detail-image { display: block; max-width: 100%; max-height: 480px; border-radius: 8px; margin: 1rem 0;
                  background: #dde2ea; }
  #detail-name { overflow-wrap: anywhere; }
  #detail-tags { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .75rem; margin: 0; }
  #detail-tags dt { font-weight: 600; overflow-wrap: anywhere; }
  #detail-tags dd { margin: 0; overflow-wrap: anywhere; }
  .muted { color: #5b6577; font-size: .9rem; }
  .signed-out #home, .signed-out #detail, .signed-out #model, .signed-out #views, .signed-out #dups-view,
  .signed-out #names-view, .signed-out #name-bar { display: none !important; }
  #who { display: flex; gap: .5rem; align-items: baseline; margin-left: auto; color: #5b6577; font-size: .9rem; }
  #sign-out { background: #fff; color: #2f6fde; border: 1px solid #2f6fde; padding: .2rem .7rem; }
  #sign-in { background: #fff; border-radius: 8px; padding: 1rem; box-shadow: 0 1px 2px #0002; margin: 1rem 0;
             display: grid; gap: .6rem; max-width: 360px; }
  #sign-in input { font: inherit; padding: .4rem .6rem; border: 1px solid #8a94a6; border-radius: 8px; width: 100%;
                   box-sizing: border-box; }
  #sign-in label { display: grid; gap: .2rem; }
  #sign-in h2 { margin: 0; }
  #views { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; margin: 0 0 1rem; }
  .tile { position: relative; }
  .tile.picked { outline: 3px solid #2f6fde; outline-offset: -3px; }
  .tile .nothumb { display: flex; align-items: center; justify-content: center; aspect-ratio: 1; background: #dde2ea;
                   color: #5b6577; font-size: .8rem; }
  .tile .pick { position: absolute; top: .35rem; left: .35rem; display: flex; background: #fffe; border-radius: 6px;
                padding: .3rem; cursor: pointer; box-shadow: 0 1px 2px #0003; }
  .tile .pick input { width: 1.25rem; height: 1.25rem; margin: 0; cursor: pointer; }
  .tile .copies { position: absolute; top: .35rem; right: .35rem; background: #1d2330e6; color: #fff; border-radius: 999px;
                  padding: .15rem .6rem; font-size: .8rem; font-weight: 600; text-decoration: none; }
  .tile .copies:hover, .tile .copies:focus-visible { background: #2f6fde; }
  .tile .tnames { display: flex; flex-wrap: wrap; gap: .25rem; padding: 0 .5rem .4rem; }
  .chip.taught { background: #e6f4ea; color: #1e5b2e; }
  /* A taught name may be 64 letters without a space: it wraps rather than widen the page. */
  .row .name .label, .tile .caption .label, .chip { min-width: 0; overflow-wrap: anywhere; }
  .group, .taught-name { background: #fff; border-radius: 8px; padding: .6rem .75rem; box-shadow: 0 1px 2px #0002;
                         margin: 0 0 .75rem; }
  .group h3 { margin: 0 0 .5rem; overflow-wrap: anywhere; }
  #groups, #name-list { list-style: none; padding: 0; margin: 0; }
  .taught-name .head { display: flex; flex-wrap: wrap; gap: .25rem .75rem; align-items: baseline; }
  .taught-name .head strong { font-size: 1.05rem; overflow-wrap: anywhere; }
  .taught-name .actions { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .5rem; }
  button.plain { background: #fff; color: #2f6fde; border: 1px solid #2f6fde; padding: .25rem .8rem; }
  button.danger { background: #fff; color: #b3261e; border: 1px solid #b3261e; padding: .25rem .8rem; }
  #name-bar { position: sticky; bottom: 0; z-index: 2; margin: 1rem -1rem 0; padding: .75rem 1rem;
              background: #fff; box-shadow: 0 -2px 6px #0002; border-radius: 8px 8px 0 0; display: grid; gap: .5rem; }
  #name-bar .line { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
  #name-input { flex: 1 1 10rem; min-width: 0; font: inherit; padding: .4rem .6rem; border: 1px solid #8a94a6;
                border-radius: 8px; }
  #picked-count { flex: 1 1 12rem; font-weight: 600; }
  #teach-note { margin: 0; }
  #teach-note:empty { display: none; }
</style>
</head>
<body>
<main>
  <header><h1 data-i18n="title">Image tagger</h1>
    <span id="who" hidden><span id="who-name"></span><button id="sign-out" type="button" data-i18n="signOut">Sign out</button></span>
    <button id="lang" type="button">中文</button></header>
  <form id="sign-in" hidden>
    <h2 data-i18n="signInTitle">Sign in</h2>
    <p id="sign-in-note" class="error" role="alert"></p>
    <label><span data-i18n="email">E-mail</span><input id="email" type="email" autocomplete="username" required></label>
    <label><span data-i18n="password">Password</span><input id="password" type="password" autocomplete="current-password" required></label>
    <button id="sign-in-go" type="submit" data-i18n="signIn">Sign in</button>
  </form>
  <p id="model" data-i18n="loadingModel">Loading model information…</p>
  <div id="home">
    <nav id="views" hidden>
      <a id="to-duplicates" href="?view=duplicates" data-i18n="duplicateGroups">Duplicate groups</a>
      <a id="to-names" href="?view=names" data-i18n="taughtNames">Taught names</a>
    </nav>
    <label id="drop" for="file">
      <strong data-i18n="dropStrong">Drop images here</strong>
      <span data-i18n="dropRest">or click to choose files (up to 50: JPEG, PNG, WebP, GIF, AVIF, TIFF)</span>
      <input id="file" type="file" accept="image/*" multiple hidden>
    </label>
    <p id="no-upload" class="muted" hidden data-i18n="noUpload">You can search and view images; uploading needs a member's or an editor's account.</p>
    <div id="status" role="status" aria-live="polite"></div>
    <ul id="uploads" aria-label="uploads"></ul>
    <section id="find" hidden>
      <h2 data-i18n="find">Find images by label</h2>
      <form id="search-form" role="search">
        <input id="search" type="search" placeholder="a label, e.g. dog, golden retriever" maxlength="200"
               aria-label="label to search for" list="suggestions" autocomplete="off" required>
        <datalist id="suggestions"></datalist>
        <button id="go" type="submit" data-i18n="search">Search</button>
      </form>
      <div id="found" role="status" aria-live="polite"></div>
      <ul id="gallery" class="gallery"></ul>
      <button id="more" type="button" hidden data-i18n="more">More</button>
    </section>
  </div>
  <article id="detail" hidden>
    <p><a id="back" href="./" data-i18n="back">← All images</a></p>
    <h2 id="detail-name"></h2>
    <div id="detail-status" role="status" aria-live="polite"></div>
    <img id="detail-image" alt="" hidden>
    <section id="detail-labels-part" hidden>
      <h3 data-i18n="labels">Labels</h3>
      <div id="detail-labels"></div>
      <div id="detail-categories" class="categories"></div>
    </section>
    <section id="detail-tags-part" hidden>
      <h3 data-i18n="yourTags">Your tags</h3>
      <dl id="detail-tags"></dl>
    </section>
    <p id="detail-model" class="muted"></p>
    <!-- Filled by the PARTS of the script; each stays hidden until it has something to show. -->
    <section id="part-similar" data-part="similar" hidden><h3 data-i18n="similar">Similar images</h3></section>
    <section id="part-duplicates" data-part="duplicates" hidden><h3 data-i18n="duplicates">Duplicates</h3></section>
    <section id="part-colours" data-part="colours" hidden><h3 data-i18n="colours">Colours</h3></section>
    <section id="part-names" data-part="names" hidden><h3 data-i18n="names">Taught names</h3></section>
  </article>
  <section id="dups-view" hidden>
    <p><a class="back" href="./" data-i18n="back">← All images</a></p>
    <h2 data-i18n="duplicateGroups">Duplicate groups</h2>
    <div id="dups-status" role="status" aria-live="polite"></div>
    <ol id="groups"></ol>
    <button id="more-groups" type="button" hidden data-i18n="more">More</button>
  </section>
  <section id="names-view" hidden>
    <p><a class="back" href="./" data-i18n="back">← All images</a></p>
    <h2 data-i18n="taughtNames">Taught names</h2>
    <p class="muted" id="names-how"></p>
    <div id="names-status" role="status" aria-live="polite"></div>
    <p id="names-note" role="status" aria-live="polite"></p>
    <ul id="name-list"></ul>
  </section>
  <form id="name-bar" hidden>
    <div class="line"><span id="picked-count"></span>
      <button id="clear-picks" class="plain" type="button" data-i18n="clearPicks">Clear selection</button></div>
    <div class="line" id="name-line"><input id="name-input" type="text" maxlength="64" autocomplete="off" required>
      <button id="teach" type="submit" data-i18n="nameThese">Name these</button></div>
    <p id="teach-note" role="status" aria-live="polite"></p>
  </form>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const readJson = (res) => res.json().catch(() => ({}));
  const mb = (bytes) => (bytes < 1e6 ? Math.max(1, Math.round(bytes / 1e3)) + ' KB' : (bytes / 1e6).toFixed(1) + ' MB');
  const pct = (score, digits) => (score * 100).toFixed(digits) + '%';
  const baseName = (key) => key.slice(key.lastIndexOf('/') + 1);
  const MAX_FILES = 50, UPLOAD_WORKERS = 4;

  // ---- Words. Every word the page shows, in both languages; the names of labels and categories
  // come from their zh field. Errors are {code, message, ...}: English shows the API's message,
  // Chinese a sentence per code.
  const WORDS = {
    en: {
      title: 'Image tagger', loadingModel: 'Loading model information…', dropStrong: 'Drop images here',
      dropRest: 'or click to choose files (up to 50: JPEG, PNG, WebP, GIF, AVIF, TIFF)',
      find: 'Find images by label', search: 'Search', more: 'More', placeholder: 'a label, e.g. dog, golden retriever',
      searchLabel: 'label to search for', uploadsLabel: 'uploads', categories: 'Categories:', back: '← All images',
      labels: 'Labels', yourTags: 'Your tags', similar: 'Similar images', duplicates: 'Duplicates',
      tier: { exact: 'same file', near: 'edited copy' },
      colours: 'Colours', names: 'Taught names', searching: 'Searching…', loading: 'Loading…',
      model: (m) => 'Model ' + m.name + ' (version ' + m.version + ', ' +
        (m.floats ? '32-bit floating point' : '8-bit integer') + ' weights), recognises ' + m.classes + ' kinds of things' +
        (m.meaningless ? ' — synthetic random weights: its labels are MEANINGLESS' : ''),
      queued: 'Waiting to upload…',
      uploading: (size) => 'Uploading (' + size + ')…',
      classifying: 'Classifying…',
      waiting: 'Uploaded; waiting for its tags…',
      top: (n, file) => (n === 1 ? 'Top label' : 'Top ' + n + ' labels') + ' for ' + file,
      noLabel: 'No label scored high enough',
      details: 'Details',
      summary: (s) => s.ok + ' of ' + s.total + ' files ' + (features.upload ? 'tagged' : 'labelled') +
        (s.failed ? ', ' + s.failed + ' failed' : '') + (s.ok + s.failed < s.total ? '…' : ''),
      tooMany: (n) => 'Only the first ' + MAX_FILES + ' of ' + n + ' files are taken (at most ' + MAX_FILES + ' at once).',
      tagged: (model, up, tags, size) => 'Tagged by ' + model + ': upload ' + up + ' s, tags ' + tags + ' s later (' + size + ')',
      inference: (t, trip) => 'Inference ' + t.inferMs.toFixed(1) + ' ms, decode ' + t.decodeMs.toFixed(1) +
        ' ms, server total ' + t.totalMs.toFixed(1) + ' ms, round trip ' + trip + ' ms',
      found: (n, more, what) => n + (more ? '+' : '') + ' image' + (n === 1 && !more ? '' : 's') + ' labelled "' + what + '", best first',
      like: (n, file) => n + ' image' + (n === 1 ? '' : 's') + ' like ' + file + ', most similar first',
      none: (what, hints) => 'No image is labelled "' + what + '"' + (hints.length ? '. Try: ' + hints.join(', ') : ''),
      status: { ok: 'Tagged', pending: 'Waiting for the tagger…', ignored: 'Not a file the tagger reads' },
      taggedBy: (model) => 'Tagged by model ' + model,
      noImage: 'This file cannot be shown as an image.',
      nothumb: 'no preview',
      signInTitle: 'Sign in', email: 'E-mail', password: 'Password', signIn: 'Sign in', signOut: 'Sign out',
      signingIn: 'Signing in…', sessionExpired: 'Your session expired: sign in again.',
      duplicateGroups: 'Duplicate groups', taughtNames: 'Taught names', original: 'original',
      noUpload: "You can search and view images; uploading needs a member's or an editor's account.",
      copies: (n) => '+' + n + (n === 1 ? ' copy' : ' copies'),
      copiesTitle: (n) => n + (n === 1 ? ' more copy' : ' more copies') + ' of this photo: show them',
      groupOf: (n) => n + ' copies of one photo',
      groupsFound: (n, more) => n + (more ? '+' : '') + (n === 1 && !more ? ' group' : ' groups') + ' of copies, newest first',
      noGroups: 'No copies found: every stored photo is one of a kind.',
      copiesElsewhere: (n) => (n === 1 ? 'Its copy is' : 'Its ' + n + ' copies are') + ' not repeated here: see Duplicates below',
      pickOne: (file) => 'select ' + file + ' to name it',
      picked: (n) => n < 3 ? n + ' selected: pick at least 3 photos of what you want to name' :
        n > 100 ? n + ' selected: at most 100 photos teach a name' : n + ' photos selected',
      clearPicks: 'Clear selection', nameThese: 'Name these', close: 'Close',
      namePlaceholder: 'a name for these photos, e.g. my dogs', nameLabel: 'a name for the selected photos',
      teaching: (name) => 'Teaching "' + name + '"…',
      understood: (u) => (u && u.group ? u.group.label + ', like these' : 'like these'),
      carried: (l) => l.labelled + (l.labelled === 1 ? ' stored image carries' : ' stored images carry') + ' it' +
        (l.complete === false ? ' so far (the others are still being checked)' : ''),
      taught: (l, created) => (created ? 'Taught' : 'Taught again') + ' "' + l.name + '": understood as "' +
        t('understood')(l.understoodAs) + '". ' + t('carried')(l) + '.',
      showNamed: 'Show its images',
      namesHow: 'Select photos in search results or among the similar images of a photo, then give them a name: ' +
        'the stored images that match get it, and so do new uploads.',
      namesHowViewer: 'Only editors teach and delete names; you can search by them.',
      noNames: 'No name taught yet.',
      namesCount: (n) => n + (n === 1 ? ' name taught' : ' names taught'),
      nameFacts: (l) => 'understood as "' + t('understood')(l.understoodAs) + '" · ' + t('carried')(l) + ' · taught' +
        (l.examples ? ' from ' + l.examples.length + ' photos' : '') +
        (l.createdBy ? ' by ' + (isMe(l.createdBy) ? 'you' : teacher(l)) : '') +
        (l.createdAt ? ' on ' + String(l.createdAt).slice(0, 10) : ''),
      deleteName: 'Delete',
      confirmDelete: (name) => 'Delete "' + name + '"? It is taken off every image that carries it.',
      deleted: (name, n) => '"' + name + '" deleted: taken off ' + n + (n === 1 ? ' image.' : ' images.'),
      editorsOnly: 'Only editors may teach or delete names: ask to be added to the editors group.',
      badName: 'A name needs letters or digits (of any language, emoji do not count), at most 64.',
      namesOff: 'This service does not teach names.',
      roles: { viewer: 'a viewer', member: 'a member', editor: 'an editor' },
      forbidden: (e) => 'Your account may not do this' + (t('roles')[e.role] ? ' (you are ' + t('roles')[e.role] + ')' : '') +
        ': ' + (e.needs === 'editor' ? 'only editors may' : e.needs === 'member' ? "it needs a member's or an editor's account" :
          'it is not allowed') + '. Ask an administrator to add you to a group that may.',
    },
    zh: {
      title: '图像标注', loadingModel: '正在读取模型信息…', dropStrong: '把图片拖到这里',
      dropRest: '或点击选择文件（一次最多 50 个）',
      find: '按标签查找图片', search: '搜索', more: '更多', placeholder: '标签，例如：狗、金毛猎犬',
      searchLabel: '要搜索的标签', uploadsLabel: '上传的文件', categories: '类别：', back: '← 全部图片',
      labels: '标签', yourTags: '你的标签', similar: '相似图片', duplicates: '重复图片',
      tier: { exact: '同一文件', near: '修改过的副本' },
      colours: '颜色', names: '教过的名字', searching: '正在搜索…', loading: '正在加载…',
      model: (m) => '模型 ' + m.name + '（第 ' + m.version + ' 版，' + (m.floats ? '32 位浮点' : '8 位整数') +
        '权重），可识别 ' + m.classes + ' 类物体' + (m.meaningless ? '。随机权重的合成模型：标签没有意义' : ''),
      queued: '等待上传…',
      uploading: (size) => '正在上传（' + size + '）…',
      classifying: '正在识别…',
      waiting: '已上传，正在等待标签…',
      top: (n, file) => file + ' 的前 ' + n + ' 个标签',
      noLabel: '没有得分足够高的标签',
      details: '详情',
      summary: (s) => (features.upload ? '已标注 ' : '已识别 ') + s.ok + ' / ' + s.total + ' 个文件' +
        (s.failed ? '，失败 ' + s.failed + ' 个' : '') + (s.ok + s.failed < s.total ? '…' : ''),
      tooMany: (n) => '一次最多 ' + MAX_FILES + ' 个文件：只上传了 ' + n + ' 个中的前 ' + MAX_FILES + ' 个。',
      tagged: (model, up, tags, size) => '由模型 ' + model + ' 标注：上传 ' + up + ' 秒，之后 ' + tags + ' 秒得到标签（' + size + '）',
      inference: (t, trip) => '推理 ' + t.inferMs.toFixed(1) + ' 毫秒，解码 ' + t.decodeMs.toFixed(1) +
        ' 毫秒，服务器共 ' + t.totalMs.toFixed(1) + ' 毫秒，往返 ' + trip + ' 毫秒',
      found: (n, more, what) => '找到 ' + n + (more ? '+' : '') + ' 张标注为“' + what + '”的图片，按得分排序',
      like: (n, file) => '找到 ' + n + ' 张与“' + file + '”相似的图片，按相似度排序',
      none: (what, hints) => '没有标注为“' + what + '”的图片' + (hints.length ? '。试试：' + hints.join('、') : ''),
      status: { ok: '已标注', pending: '正在等待标注…', ignored: '不是可标注的文件' },
      taggedBy: (model) => '标注模型：' + model,
      noImage: '这个文件无法作为图片显示。',
      nothumb: '无预览',
      signInTitle: '登录', email: '邮箱', password: '密码', signIn: '登录', signOut: '退出登录',
      signingIn: '正在登录…', sessionExpired: '登录已过期，请重新登录。',
      duplicateGroups: '重复图片组', taughtNames: '教过的名字', original: '原图',
      noUpload: '你可以搜索和查看图片；上传需要成员或编辑者账号。',
      copies: (n) => '+' + n + ' 个副本',
      copiesTitle: (n) => '这张照片还有 ' + n + ' 个副本：点击查看',
      groupOf: (n) => '同一张照片的 ' + n + ' 个副本',
      groupsFound: (n, more) => '找到 ' + n + (more ? '+' : '') + ' 组重复图片，最新的在前',
      noGroups: '没有找到重复图片：每张照片都是唯一的。',
      copiesElsewhere: (n) => '这张照片的 ' + n + ' 个副本不在这里重复列出：见下方的“重复图片”',
      pickOne: (file) => '选择 ' + file + ' 来命名',
      picked: (n) => n < 3 ? '已选 ' + n + ' 张：请至少选 3 张要命名的照片' :
        n > 100 ? '已选 ' + n + ' 张：一个名字最多用 100 张照片来教' : '已选 ' + n + ' 张照片',
      clearPicks: '取消选择', nameThese: '命名这些', close: '关闭',
      namePlaceholder: '给这些照片起个名字，例如：我的狗', nameLabel: '所选照片的名字',
      teaching: (name) => '正在教“' + name + '”…',
      understood: (u) => (u && u.group ? (u.group.zh || u.group.label) + '，类似这些' : '类似这些'),
      carried: (l) => '现在有 ' + l.labelled + ' 张已存图片带有这个名字' + (l.complete === false ? '（其余图片仍在检查中）' : ''),
      taught: (l, created) => (created ? '已教会' : '已重新教会') + '“' + l.name + '”：理解为“' +
        t('understood')(l.understoodAs) + '”。' + t('carried')(l) + '。',
      showNamed: '显示它的图片',
      namesHow: '在搜索结果或图片的相似图片中选择照片，再给它们起个名字：已存的相符图片会得到这个名字，之后上传的也会。',
      namesHowViewer: '只有编辑者可以教名字和删除名字；你可以按名字搜索。',
      noNames: '还没有教过名字。',
      namesCount: (n) => '已教 ' + n + ' 个名字',
      nameFacts: (l) => '理解为“' + t('understood')(l.understoodAs) + '” · ' + t('carried')(l) + ' · ' +
        (l.createdBy ? '由' + (isMe(l.createdBy) ? '你' : ' ' + teacher(l) + ' ') : '') +
        (l.createdAt ? '于 ' + String(l.createdAt).slice(0, 10) + ' ' : '') + '教会' +
        (l.examples ? '（用 ' + l.examples.length + ' 张照片）' : ''),
      deleteName: '删除',
      confirmDelete: (name) => '删除“' + name + '”？所有带有它的图片都会去掉这个名字。',
      deleted: (name, n) => '已删除“' + name + '”：从 ' + n + ' 张图片上去掉。',
      editorsOnly: '只有编辑者可以教名字或删除名字：请让管理员把你加入编辑者组。',
      badName: '名字要有字母、数字或汉字（表情符号不算），最多 64 个。',
      namesOff: '这个服务不能教名字。',
      roles: { viewer: '查看者', member: '成员', editor: '编辑者' },
      forbidden: (e) => '你的账号不能执行这个操作' + (t('roles')[e.role] ? '（你是' + t('roles')[e.role] + '）' : '') + '：' +
        (e.needs === 'editor' ? '只有编辑者可以' : e.needs === 'member' ? '需要成员或编辑者账号' : '没有权限') +
        '。请让管理员把你加入有权限的用户组。',
    },
  };
  const ERRORS_ZH = {
    NotAnImage: () => '不是图片文件，没有上传',
    UnsupportedFormat: () => '不支持的格式：只能识别常见的图片格式',
    CorruptImage: () => '图片已损坏，无法解码',
    ImageTooLarge: (e) => '文件太大' + (e.size ? '（' + mb(e.size) + '）' : '') + '，超过了上限',
    InvalidArgument: () => '请求无效',
    NotFound: () => '找不到这张图片',
    TimedOut: () => '60 秒内没有得到标签',
    UploadFailed: () => '上传失败：存储桶没有接收这个文件',
    NetworkError: () => '网络错误：服务没有应答',
    InternalError: () => '服务内部出错',
    TaggerFailed: (e) => '无法识别：' + errorText({ code: e.status }),
    NotAuthorizedException: () => '邮箱或密码错误',
    UserNotFoundException: () => '邮箱或密码错误',
    InvalidPasswordException: () => '邮箱或密码错误',
    PasswordResetRequiredException: () => '需要重设密码：请联系管理员',
    NewPasswordRequired: () => '这个账号需要设置新密码：请联系管理员',
    TooManyRequestsException: () => '尝试次数太多，请稍后再试',
    Unauthorized: () => '请先登录',
    NameTaken: () => '这个名字已经是词汇里的标签或类别：请换一个名字',
    InvalidCursor: () => '翻页位置无效：请重新加载',
  };
  const saved = (() => { try { return localStorage.getItem('lang'); } catch { return null; } })();
  let lang = saved === 'zh' || saved === 'en' ? saved : /^zh/i.test(navigator.language || '') ? 'zh' : 'en';
  const t = (key) => WORDS[lang][key];
  const nameOf = (l) => (lang === 'zh' && l.zh ? l.zh : l.label);
  /** An error's sentence in the page's language. */
  function errorText(e) {
    // A refusal (403) says, in either language, what the account is and what it would need.
    if (e.code === 'Forbidden') return t('forbidden')(e);
    if (lang === 'zh') {
      const say = ERRORS_ZH[e.code];
      return say ? say(e) : '请求失败' + (e.status ? '（状态 ' + e.status + '）' : '');
    }
    if (e.code === 'TaggerFailed') return e.status + ': the tagger could not label ' + e.file;
    return e.message ? e.code + ': ' + e.message : e.code;
  }
  const apiError = (body, res, extra) => Object.assign(
    body && body.error ? { code: body.error.code, message: body.error.message, role: body.error.role, needs: body.error.needs } :
      { code: 'HTTP' + res.status, message: 'HTTP ' + res.status, status: res.status }, extra);
  const fail = (error) => { const err = new Error(error.message || error.code); err.detail = error; return err; };
  const detailOf = (err) => err && err.detail ? err.detail :
    { code: 'NetworkError', message: String((err && err.message) || err) };

  const rerender = [];
  function applyLanguage() {
    document.documentElement.lang = lang === 'zh' ? 'zh-Hans' : 'en';
    $('lang').textContent = lang === 'zh' ? 'English' : '中文';
    for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.getAttribute('data-i18n'));
    $('search').placeholder = t('placeholder');
    $('search').setAttribute('aria-label', t('searchLabel'));
    $('uploads').setAttribute('aria-label', t('uploadsLabel'));
    document.title = t('title');
    for (const draw of rerender) draw();
  }
  $('lang').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    try { localStorage.setItem('lang', lang); } catch {}
    applyLanguage();
  });

  // ---- The service: model and features (GET health).
  const features = { search: false, upload: false, similar: false, names: false };
  let modelInfo;
  function drawModel() {
    if (!modelInfo) return;
    $('model').removeAttribute('data-i18n');
    $('model').textContent = t('model')(modelInfo);
    $('model').className = modelInfo.meaningless ? 'meaningless' : '';
  }
  rerender.push(drawModel);
  const ready = fetch('health').then((r) => r.json()).then((h) => {
    const m = h.model;
    modelInfo = { name: m.name, version: m.version, classes: m.classes, meaningless: m.labelsMeaningful === false,
      floats: m.quantization === 'none' };
    drawModel();
    features.search = Boolean(h.features && h.features.search);
    features.upload = Boolean(h.features && h.features.upload);
    features.similar = Boolean(h.features && h.features.similar);
    // Taught names rest on the embedding and the vector index (/health may say so itself).
    features.names = Boolean(h.features && (h.features.names === undefined ? h.features.similar : h.features.names));
    $('find').hidden = !features.search;
    $('to-duplicates').hidden = !features.similar;
    $('to-names').hidden = !features.names;
    $('views').hidden = !features.similar && !features.names;
    return startSession(h.signIn);
  }).catch(() => { $('model').removeAttribute('data-i18n'); $('model').textContent = ''; });

  // ---- Sign-in (when /health names a user pool): the pool's own API, tokens in sessionStorage.
  const SESSION = 'image-tagger.session', REFRESH_BEFORE_MS = 5 * 60 * 1000;
  let pool = null, session = null, refreshTimer, refreshing;
  const saveSession = (s) => {
    session = s;
    try { if (s) sessionStorage.setItem(SESSION, JSON.stringify(s)); else sessionStorage.removeItem(SESSION); } catch {}
  };
  /** A call of the user pool API (Cognito's JSON protocol); its errors as {code, message}. */
  async function poolCall(action, body) {
    let res;
    try {
      res = await fetch(pool.endpoint + '/', { method: 'POST', body: JSON.stringify(body), headers: {
        'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityProviderService.' + action } });
    } catch (err) { throw fail({ code: 'NetworkError', message: String(err.message || err) }); }
    const out = await readJson(res);
    if (!res.ok) {
      const code = String(out.__type || out.code || 'HTTP' + res.status).split('#').pop();
      throw fail({ code, message: out.message || out.Message || code });
    }
    return out;
  }
  // The ID token goes only with teaching a name: the API records the verified e-mail address it holds
  // (access tokens carry none), so others see who taught a name by address.
  const sessionOf = (r, email, refreshToken) => ({ email, access: r.AccessToken, id: r.IdToken,
    refresh: r.RefreshToken || refreshToken, expiresAt: Date.now() + (r.ExpiresIn || 3600) * 1000 });
  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    if (session) refreshTimer = setTimeout(() => refresh().catch(() => endSession('sessionExpired')),
      Math.max(0, session.expiresAt - Date.now() - REFRESH_BEFORE_MS));
  }
  /** New access token from the refresh token (one at a time). */
  function refresh() {
    refreshing ??= poolCall('InitiateAuth', { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: pool.clientId,
      AuthParameters: { REFRESH_TOKEN: session.refresh } }).then((out) => {
      const before = groups().join();
      saveSession(sessionOf(out.AuthenticationResult, session.email, session.refresh));
      scheduleRefresh();
      // An administrator changed the user's groups: what the page offers follows the new token.
      if (groups().join() !== before) for (const draw of rerender) draw();
    }).finally(() => { refreshing = undefined; });
    return refreshing;
  }
  let signInNote = '';
  function drawSignIn() {
    document.body.classList.toggle('signed-out', Boolean(pool && !session));
    $('sign-in').hidden = !pool || Boolean(session);
    $('who').hidden = !session;
    $('who-name').textContent = session ? session.email : '';
    $('sign-in-note').textContent = signInNote ? t(signInNote) : '';
    // Viewers read only (the API refuses their uploads): no drop zone, and a line saying why.
    const viewer = groups().includes('viewers') && !groups().includes('editors');
    $('drop').hidden = viewer;
    $('no-upload').hidden = !viewer;
  }
  rerender.push(drawSignIn);
  /** Ends the session (expired, or signed out) and shows the form with why. */
  function endSession(why) {
    clearTimeout(refreshTimer);
    saveSession(null);
    signInNote = why;
    drawSignIn();
  }
  async function startSession(signIn) {
    if (!signIn) return;
    pool = signIn;
    try { saveSession(JSON.parse(sessionStorage.getItem(SESSION) || 'null')); } catch { saveSession(null); }
    if (session && session.expiresAt - Date.now() < REFRESH_BEFORE_MS)
      await refresh().catch(() => { endSession('sessionExpired'); });
    scheduleRefresh();
    drawSignIn();
  }
  $('sign-in').addEventListener('submit', async (e) => {
    e.preventDefault();
    const email = $('email').value.trim();
    $('sign-in-go').disabled = true;
    $('sign-in-note').textContent = t('signingIn');
    try {
      const out = await poolCall('InitiateAuth', { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: pool.clientId,
        AuthParameters: { USERNAME: email, PASSWORD: $('password').value } });
      if (!out.AuthenticationResult) throw fail({ code: 'NewPasswordRequired', message: 'this account needs a new password (' + out.ChallengeName + '): ask the administrator' });
      saveSession(sessionOf(out.AuthenticationResult, email));
      $('password').value = '';
      signInNote = '';
      scheduleRefresh();
      drawSignIn();
      route();
    } catch (err) {
      $('sign-in-note').textContent = errorText(detailOf(err));
    } finally {
      $('sign-in-go').disabled = false;
    }
  });
  $('sign-out').addEventListener('click', async () => {
    const token = session && session.refresh;
    endSession('');
    // The refresh token is revoked (its access tokens then expire within the hour).
    if (token) await poolCall('RevokeToken', { Token: token, ClientId: pool.clientId }).catch(() => {});
    // Nothing of the session stays on screen: the page starts again, signed out.
    location.replace(location.pathname);
  });
  /**
   * The signed-in user's groups, from the access token's cognito:groups: only to offer what the user
   * may do (the API checks the token itself, and the page says so on a 403).
   */
  function claims() {
    if (!session) return {};
    try {
      return JSON.parse(atob(session.access.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) || {};
    } catch { return {}; }
  }
  const groups = () => (Array.isArray(claims()['cognito:groups']) ? claims()['cognito:groups'] : []);
  /** Whether a name's createdBy (the API's caller name: the token's username) is the signed-in user. */
  const isMe = (who) => Boolean(who) && [claims().username, claims().sub].includes(who);
  /**
   * Who taught a name, for others: the e-mail address the API verified when it was taught, else its
   * user name (names taught before addresses were recorded, or by a client that sent no ID token).
   */
  const teacher = (l) => l.createdByEmail || l.createdBy;
  /** Teaching and deleting names is for editors (a public demo has none). */
  const canTeach = () => features.names && groups().includes('editors');

  /**
   * A request to the API: with the access token when signed in (refreshed first when it is about to
   * expire); a 401 ends the session ("session expired"). A 403 refreshes the tokens: when the user's
   * groups changed since they were issued, the page redraws for the new ones and the request goes
   * once more (nothing was done the first time).
   */
  async function api(url, init) {
    await ready;
    if (!pool) return fetch(url, init);
    if (!session) throw fail({ code: 'Unauthorized', message: 'sign in first' });
    if (session.expiresAt - Date.now() < 60000) await refresh().catch(() => {});
    const send = () => {
      const headers = new Headers((init && init.headers) || {});
      headers.set('authorization', 'Bearer ' + session.access);
      return fetch(url, Object.assign({}, init, { headers }));
    };
    let res = await send();
    if (res.status === 403) {
      const before = groups().join();
      await refresh().catch(() => {});
      if (session && groups().join() !== before) res = await send();
    }
    if (res.status === 401) endSession('sessionExpired');
    return res;
  }

  // ---- Shared pieces: label bars, category chips, links to the detail view.
  function labelRows(labels) {
    const box = el('div', 'results');
    for (const l of labels) {
      const row = el('div', 'row');
      const name = el('div', 'name');
      name.append(el('span', 'label', nameOf(l)), el('span', 'pct', pct(l.score, 1)));
      const bar = el('div', 'bar');
      const fill = el('span');
      fill.style.width = Math.max(0.5, l.score * 100).toFixed(1) + '%';
      bar.append(fill);
      row.append(name, bar);
      box.append(row);
    }
    return box;
  }
  function categoryChips(box, categories) {
    box.replaceChildren();
    if (!categories || categories.length === 0) return box;
    box.append(el('span', '', t('categories')));
    for (const c of categories) box.append(el('span', 'chip', nameOf(c) + ' ' + pct(c.score, 0)));
    return box;
  }
  /** The record of one image: GET image?key=<key>. */
  const imageUrl = (key) => 'image?' + new URLSearchParams({ key }).toString();
  const detailHref = (key) => '?' + new URLSearchParams({ image: key }).toString();
  /** A link within the page (its own URL; followed without reloading the page). */
  function inPage(a) {
    a.addEventListener('click', (e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      history.pushState({ from: 'page' }, '', a.href);
      route();
    });
    return a;
  }
  /** A link to an image's detail view; part scrolls to one of its sections ('duplicates'). */
  function detailLink(key, className, text, part) {
    const a = el('a', className, text);
    a.href = detailHref(key) + (part ? '#' + part : '');
    return inPage(a);
  }
  /**
   * A tile of an image, one link to its detail view: the thumbnail (a plain box when the browser cannot
   * show it), a caption (left), a score (right) and the file name. A search item that stands for copies
   * carries a "+N copies" badge that opens them (its detail view's duplicates); the taught names an item
   * carries show as chips; with pick, an editor gets a box to select it for "name these".
   */
  function imageTile(item, caption, score, pick) {
    const li = el('li', 'tile');
    li.dataset.key = item.key;
    const img = el('img');
    img.loading = 'lazy';
    img.decoding = 'async';
    img.alt = baseName(item.key);
    img.addEventListener('error', () => img.replaceWith(el('div', 'nothumb', t('nothumb'))));
    img.src = item.url;
    const cap = el('div', 'caption');
    cap.append(el('span', 'label', caption), el('span', 'score', score));
    const name = el('div', 'file', baseName(item.key));
    name.title = item.key;
    const link = detailLink(item.key, '');
    link.append(img, cap, name);
    li.append(link);
    const names = item.names || [];
    if (names.length) {
      const chips = el('div', 'tnames');
      for (const n of names) chips.append(el('span', 'chip taught', n.label));
      li.append(chips);
    }
    if (item.copies > 0) {
      const badge = detailLink(item.key, 'copies', t('copies')(item.copies), 'duplicates');
      badge.title = t('copiesTitle')(item.copies);
      li.append(badge);
    }
    if (pick && canTeach()) li.append(pickBox(item, li));
    return li;
  }
  const similarity = (item) => (typeof item.similarity === 'number' ? pct(item.similarity, 0) : '');
  /** A thumbnail that disappears (leaving a plain box) when the browser cannot show the file. */
  function thumbnail(src, className, onBroken) {
    const img = el('img', className);
    img.alt = '';
    img.decoding = 'async';
    img.addEventListener('error', () => { img.remove(); if (onBroken) onBroken(); });
    img.src = src;
    return img;
  }

  // ---- Uploads: one card per file; at most UPLOAD_WORKERS in flight; a failure stays on its card.
  const entries = [];
  const status = $('status');
  let overflow = 0;
  function drawSummary() {
    const batch = entries.filter((e) => e.batch === batchNo);
    if (batch.length === 0) { status.textContent = ''; return; }
    const ok = batch.filter((e) => e.state === 'done').length;
    const failed = batch.filter((e) => e.state === 'failed').length;
    let text;
    if (batch.length === 1 && ok === 1) text = batch[0].labels.length ? t('top')(batch[0].labels.length, batch[0].name) : t('noLabel');
    else if (batch.length === 1 && failed === 1) text = errorText(batch[0].error);
    else text = t('summary')({ ok, failed, total: batch.length });
    status.textContent = (overflow ? t('tooMany')(overflow) + ' ' : '') + text;
    status.className = failed > 0 && batch.length === 1 ? 'error' : '';
  }
  function drawCard(entry) {
    const card = entry.card;
    card.className = 'card ' + entry.state;
    card.dataset.state = entry.state;
    if (!entry.thumb) {
      entry.thumb = el('div', 'nothumb', t('nothumb'));
      if (entry.preview) {
        const img = thumbnail(entry.preview, 'thumb', () => {
          entry.preview = undefined;
          entry.thumb = undefined;
          drawCard(entry);
        });
        entry.thumb = img;
      }
    }
    if (entry.thumb.className === 'nothumb') entry.thumb.textContent = t('nothumb');
    const body = el('div', 'body');
    body.append(el('div', 'file', entry.name));
    body.lastChild.title = entry.name;
    let state;
    if (entry.state === 'failed') state = errorText(entry.error);
    else if (entry.state === 'done') state = entry.labels.length ? t('top')(entry.labels.length, entry.name) : t('noLabel');
    else if (entry.state === 'uploading') state = t('uploading')(mb(entry.size));
    else state = t(entry.state);
    body.append(el('div', 'state', state));
    if (entry.labels && entry.labels.length) body.append(labelRows(entry.labels));
    if (entry.categories && entry.categories.length) body.append(categoryChips(el('div', 'categories'), entry.categories));
    if (entry.timing) body.append(el('p', 'timing', entry.timing()));
    if (entry.key && (entry.state === 'done' || entry.state === 'failed')) body.append(detailLink(entry.key, 'open', t('details')));
    card.replaceChildren(entry.thumb, body);
  }
  rerender.push(() => { for (const e of entries) drawCard(e); drawSummary(); });

  const looksLikeImage = (f) => /^image\\//.test(f.type) ||
    (f.type === '' && /\\.(jpe?g|png|webp|gif|avif|tiff?|heic|heif|bmp)$/i.test(f.name));

  /** GET the image's record until the tagger has written a status: every 500 ms, for at most 60 s. */
  async function waitForTags(key, deadlineMs) {
    const deadline = performance.now() + (deadlineMs || 60000);
    for (;;) {
      const res = await api(imageUrl(key), { cache: 'no-store' });
      const body = await readJson(res);
      if (res.ok && body.status !== 'pending') return body;
      if (!res.ok && res.status !== 404) throw fail(apiError(body, res));
      if (performance.now() > deadline) throw fail({ code: 'TimedOut', message: 'no tags after 60 s for ' + key });
      await sleep(500);
    }
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

  async function upload(entry) {
    const f = entry.file;
    entry.state = 'uploading'; drawCard(entry);
    const started = performance.now();
    const res = await api('uploads', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filename: f.name, contentType: f.type || undefined, size: f.size }),
    });
    const grant = await readJson(res);
    if (!res.ok) throw fail(apiError(grant, res, { size: f.size }));
    const form = new FormData();
    for (const [name, value] of Object.entries(grant.fields)) form.append(name, value);
    form.append('file', f, f.name);
    let put;
    try {
      put = await fetch(grant.url, { method: 'POST', body: form });
    } catch (err) {
      throw fail({ code: 'UploadFailed', message: 'the bucket did not take the file (' + (err.message || err) + ')' });
    }
    if (!put.ok) throw fail({ code: 'UploadFailed', message: await s3Error(put) });
    const uploaded = performance.now();
    entry.key = grant.key;
    entry.state = 'waiting'; drawCard(entry);
    const info = await waitForTags(grant.key);
    const up = ((uploaded - started) / 1000).toFixed(1), later = ((performance.now() - uploaded) / 1000).toFixed(1);
    entry.timing = () => t('tagged')(info.model || '?', up, later, mb(f.size));
    if (info.status !== 'ok') throw fail({ code: 'TaggerFailed', status: info.status, file: f.name });
    entry.labels = info.labels || [];
    entry.categories = info.categories || [];
    searchAgainSoon();
  }

  async function classify(entry) {
    const f = entry.file;
    entry.state = 'classifying'; drawCard(entry);
    const form = new FormData();
    form.append('image', f, f.name);
    const started = performance.now();
    const res = await api('classify?topK=3', { method: 'POST', body: form });
    const body = await readJson(res);
    if (!res.ok) throw fail(apiError(body, res, { size: f.size }));
    const trip = (performance.now() - started).toFixed(0);
    entry.labels = body.labels;
    entry.categories = body.categories || [];
    entry.timing = () => t('inference')(body.timings, trip);
  }

  async function run(entry) {
    try {
      await ready;
      await (features.upload ? upload(entry) : classify(entry));
      entry.state = 'done';
    } catch (err) {
      entry.state = 'failed';
      entry.error = detailOf(err);
    }
    drawCard(entry);
    drawSummary();
  }

  const queue = [];
  let workers = 0, batchNo = 0;
  async function worker() {
    workers++;
    try {
      for (let entry = queue.shift(); entry; entry = queue.shift()) await run(entry);
    } finally {
      workers--;
    }
  }
  function handleFiles(list) {
    const files = Array.from(list || []);
    if (files.length === 0) return;
    if (route.current !== 'home') goHome();
    batchNo++;
    overflow = files.length > MAX_FILES ? files.length : 0;
    const batch = files.slice(0, MAX_FILES).map((f) => ({
      file: f, name: f.name, size: f.size, batch: batchNo, card: el('li'),
      preview: looksLikeImage(f) ? URL.createObjectURL(f) : undefined,
      state: 'queued', labels: [], categories: [],
    }));
    const first = $('uploads').firstChild;
    for (const entry of batch) {
      entries.push(entry);
      if (!looksLikeImage(entry.file)) {
        entry.state = 'failed';
        entry.error = { code: 'NotAnImage', message: entry.name + ' is not an image (JPEG, PNG, WebP, GIF, AVIF or TIFF); it was not sent' };
      } else queue.push(entry);
      drawCard(entry);
      $('uploads').insertBefore(entry.card, first);
    }
    drawSummary();
    // Without uploads (POST classify) one file at a time: each is a whole inference on the server.
    ready.then(() => {
      const want = Math.min(features.upload ? UPLOAD_WORKERS : 1, queue.length) - workers;
      for (let i = 0; i < want; i++) worker();
    });
  }

  const drop = $('drop'), file = $('file');
  file.addEventListener('change', () => { handleFiles(file.files); file.value = ''; });
  for (const type of ['dragenter', 'dragover']) drop.addEventListener(type, (e) => {
    e.preventDefault(); drop.classList.add('over');
  });
  for (const type of ['dragleave', 'drop']) drop.addEventListener(type, (e) => {
    e.preventDefault(); drop.classList.remove('over');
  });
  drop.addEventListener('drop', (e) => handleFiles(e.dataTransfer && e.dataTransfer.files));

  // ---- Search: one query at a time; a new search makes the answers of an older one irrelevant.
  const gallery = $('gallery'), more = $('more'), found = $('found');
  const normal = (text) => text.normalize('NFC').trim().replace(/\\s+/g, ' ').toLowerCase();
  let query = '', cursor, generation = 0, resolved, lastAnswer, foundError;
  /** The file dropped on the search box: the gallery shows the images like it (POST similar). */
  let likeFile;
  const items = [];

  /** A resolved word as people write it: a taught name's or a colour's index term less its "name:" / "colour:". */
  const termOf = (r) => (r.kind === 'name' || r.kind === 'colour' ? r.term.slice(r.term.indexOf(':') + 1) : r.term);
  function tile(item) {
    const term = normal(resolved && !Array.isArray(resolved) ? termOf(resolved) : query);
    const match = likeFile ? item.labels && item.labels[0] :
      [...(item.labels || []), ...(item.categories || []), ...(item.names || [])].find((l) => normal(l.label) === term);
    return imageTile(item, match ? nameOf(match) : query, likeFile ? similarity(item) : pct(item.score, 1), true);
  }
  function drawFound() {
    if (foundError) {
      found.textContent = errorText(foundError);
      found.className = 'error';
      return;
    }
    if (!lastAnswer) return;
    const n = gallery.children.length;
    const what = !resolved ? query :
      Array.isArray(resolved) ? resolved.map((r) => (lang === 'zh' && r.zh ? r.zh : r.word)).join(' ') :
      lang === 'zh' && resolved.zh ? resolved.zh :
      normal(termOf(resolved)) === normal(query) ? query : termOf(resolved);
    const hints = (lastAnswer.suggestions || []).map((s) => (lang === 'zh' && s.zh ? s.zh : s.word));
    found.textContent = likeFile ? t('like')(n, likeFile) :
      n === 0 ? t('none')(what, hints) : t('found')(n, Boolean(cursor), what);
    found.className = '';
  }

  async function loadMore(limit) {
    const mine = generation;
    more.disabled = true;
    // Several words (or Chinese, written without spaces) are intersected by q=; one word is label=,
    // and so is a taught name the page knows (label= finds a name taught a moment ago on any server).
    const several = /\\s|\\p{Script=Han}/u.test(query) && !knownNames.has(normal(query));
    const params = new URLSearchParams({ [several ? 'q' : 'label']: query, limit: String(limit || 24) });
    if (cursor) params.set('cursor', cursor);
    try {
      const res = await api('images?' + params.toString(), { cache: 'no-store' });
      const body = await readJson(res);
      if (mine !== generation) return;
      if (!res.ok) throw fail(apiError(body, res));
      resolved = body.resolved;
      foundError = undefined;
      for (const item of body.items) { items.push(item); gallery.append(tile(item)); }
      cursor = body.cursor;
      more.hidden = !cursor;
      lastAnswer = body;
      drawFound();
    } catch (err) {
      if (mine !== generation) return;
      lastAnswer = undefined;
      foundError = detailOf(err);
      drawFound();
    } finally {
      if (mine === generation) more.disabled = false;
    }
  }
  /** Searches the query again from the start, at least as many results as are shown. */
  function search(limit) {
    generation++;
    cursor = undefined;
    resolved = undefined;
    lastAnswer = undefined;
    foundError = undefined;
    items.length = 0;
    more.hidden = true;
    return loadMore(limit).then(() => undefined);
  }
  function newSearch() {
    likeFile = undefined;
    gallery.replaceChildren();
    found.textContent = t('searching');
    found.className = '';
    search();
  }
  // Results go stale as this page's uploads are tagged: the shown search runs again (once for a burst).
  let again;
  function searchAgainSoon() {
    if (!query || !features.search) return;
    clearTimeout(again);
    again = setTimeout(async () => {
      const shown = Math.min(100, Math.max(24, items.length));
      const before = generation + 1;
      const old = Array.from(gallery.children);
      await search(shown);
      // The new answer replaces the old tiles (loadMore appended after them).
      if (generation === before) for (const li of old) li.remove();
      drawFound();
    }, 300);
  }

  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    query = $('search').value.trim();
    if (!query) return;
    newSearch();
  });
  more.addEventListener('click', () => loadMore());
  // A photo dropped on the search box finds the stored images like it (POST similar: nothing is stored).
  const form = $('search-form');
  for (const type of ['dragenter', 'dragover']) form.addEventListener(type, (e) => {
    if (features.similar) e.preventDefault();
  });
  form.addEventListener('drop', async (e) => {
    e.preventDefault();
    const dropped = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (!features.similar || !dropped) return;
    const mine = ++generation;
    likeFile = dropped.name;
    query = '';
    cursor = undefined;
    resolved = undefined;
    lastAnswer = undefined;
    foundError = undefined;
    items.length = 0;
    more.hidden = true;
    gallery.replaceChildren();
    found.textContent = t('searching');
    found.className = '';
    try {
      // Multipart, as the page's POST classify: a raw binary body does not survive serverless-offline.
      const body = new FormData();
      body.append('image', dropped, dropped.name);
      const res = await api('similar?limit=24', { method: 'POST', body });
      const answer = await readJson(res);
      if (mine !== generation) return;
      if (!res.ok) throw fail(apiError(answer, res));
      for (const item of answer.similar || []) { items.push(item); gallery.append(tile(item)); }
      lastAnswer = answer;
      drawFound();
    } catch (err) {
      if (mine !== generation) return;
      foundError = detailOf(err);
      drawFound();
    }
  });
  rerender.push(() => { gallery.replaceChildren(...items.map(tile)); drawFound(); });

  // Suggestions as one types: labels, categories and synonyms, in either language.
  let typed = 0, timer;
  $('search').addEventListener('input', () => {
    clearTimeout(timer);
    const text = $('search').value.trim();
    if (!features.search || !text) return;
    const mine = ++typed;
    timer = setTimeout(async () => {
      try {
        const res = await api('images?' + new URLSearchParams({ suggest: text }).toString());
        const body = await readJson(res);
        if (mine !== typed || !res.ok) return;
        $('suggestions').replaceChildren(...(body.suggestions || []).map((s) => {
          const option = document.createElement('option');
          option.value = s.word;
          option.label = s.kind === 'category' ? (s.zh ? s.term + ' · ' + s.zh : s.term) : (s.zh || termOf(s));
          return option;
        }));
      } catch {}
    }, 150);
  });

  // ---- The detail view: ?image=<key>.
  /**
   * Later features fill their section of the detail view here: each part gets the image's record
   * (GET image?key=, the answer shown above) and its <section data-part=...>; it appends what it
   * has (detailLink and thumbnail build linked thumbnails) and unhides the section, or leaves it
   * hidden. It runs again when the language changes (clear what it appended first).
   *   { part: 'similar', draw: async (info, section) => { ... } }
   */
  const PARTS = [];
  // Colours (docs/colours.md): a swatch per dominant colour of the image, its name and its share.
  const SWATCHES = { red: '#d32f2f', orange: '#f57c00', yellow: '#fbc02d', green: '#388e3c', blue: '#1976d2',
    purple: '#7b1fa2', pink: '#f06292', brown: '#795548', black: '#212121', white: '#ffffff', grey: '#9e9e9e' };
  const COLOUR_OF_ZH = { 红色: 'red', 橙色: 'orange', 黄色: 'yellow', 绿色: 'green', 蓝色: 'blue', 紫色: 'purple',
    粉色: 'pink', 棕色: 'brown', 黑色: 'black', 白色: 'white', 灰色: 'grey' };
  PARTS.push({ part: 'colours', draw(info, section) {
    for (const old of section.querySelectorAll('.swatches')) old.remove();
    const colours = info.colours || [];
    section.hidden = colours.length === 0;
    if (colours.length === 0) return;
    const box = el('div', 'swatches');
    for (const c of colours) {
      const name = COLOUR_OF_ZH[c.label] || c.label;
      const swatch = el('span', 'swatch');
      swatch.dataset.colour = name;
      const chip = el('i');
      chip.style.backgroundColor = SWATCHES[name] || '#cccccc';
      const zh = c.zh || (COLOUR_OF_ZH[c.label] ? c.label : undefined);
      swatch.append(chip, el('span', '', (lang === 'zh' && zh ? zh : name) + ' ' + pct(c.score, 0)));
      box.append(swatch);
    }
    section.append(box);
  } });
  let shownInfo, detailGeneration = 0;
  /** A strip of image tiles: each item's caption(item, i) (left), its similarity (right) and file name. */
  function strip(items, caption, pick) {
    const ul = el('ul', 'gallery strip');
    items.forEach((item, i) => ul.append(imageTile(item, caption(item, i), similarity(item), pick)));
    return ul;
  }
  /** A line saying the image's copies are left out of its similar strip, a link to its duplicates above. */
  function copiesNote(n) {
    const a = el('a', 'copies-note', t('copiesElsewhere')(n));
    a.href = '#duplicates';
    a.addEventListener('click', (e) => {
      e.preventDefault();
      $('part-duplicates').scrollIntoView();
    });
    const p = el('p', 'muted');
    p.append(a);
    return p;
  }
  /**
   * Copies and similar images of a tagged image (GET image/duplicates, image/similar), when the service
   * has vectors. The API leaves the image's copies out of its similar images and says how many.
   */
  for (const [part, route, caption, pick] of [
    ['duplicates', 'image/duplicates', (item) => t('tier')[item.tier], false],
    ['similar', 'image/similar', (item) => (item.labels && item.labels[0] ? nameOf(item.labels[0]) : ''), true],
  ])
    PARTS.push({
      part,
      draw: async (info, section) => {
        while (section.children.length > 1) section.lastChild.remove();
        section.hidden = true;
        if (!features.similar || info.status !== 'ok') return;
        const res = await api(route + '?' + new URLSearchParams({ key: info.key }), { cache: 'no-store' });
        if (!res.ok) return;
        const body = await res.json();
        const items = body.items || [];
        if (shownInfo !== info || (items.length === 0 && !(body.copies > 0))) return;
        while (section.children.length > 1) section.lastChild.remove();
        if (items.length) section.append(strip(items, caption, pick));
        if (body.copies > 0) section.append(copiesNote(body.copies));
        section.hidden = false;
        // The "+N copies" badge of a search tile opens the detail view here.
        if (location.hash === '#' + part) section.scrollIntoView();
      },
    });
  // Taught names the image carries (GET image?key= names: [{label, score}]), shown as its labels are.
  PARTS.push({ part: 'names', draw(info, section) {
    while (section.children.length > 1) section.lastChild.remove();
    const names = info.names || [];
    section.hidden = names.length === 0;
    if (names.length) section.append(labelRows(names));
  } });
  function drawDetail() {
    const info = shownInfo;
    if (!info) return;
    $('detail-name').textContent = baseName(info.key);
    document.title = baseName(info.key) + ' · ' + t('title');
    const st = $('detail-status');
    if (info.error) {
      st.textContent = errorText(info.error);
      st.className = 'error';
    } else if (info.status === 'ok' || info.status === 'pending' || info.status === 'ignored') {
      st.textContent = t('status')[info.status];
      st.className = '';
    } else {
      st.textContent = errorText({ code: 'TaggerFailed', status: info.status, file: baseName(info.key) });
      st.className = 'error';
    }
    const labels = info.labels || [], categories = info.categories || [];
    $('detail-labels').replaceChildren(...(labels.length ? [labelRows(labels)] : []));
    categoryChips($('detail-categories'), categories);
    $('detail-labels-part').hidden = labels.length === 0 && categories.length === 0;
    const own = Object.entries(info.tags || {}).filter(([k]) => !/^tagger:/.test(k));
    $('detail-tags').replaceChildren(...own.flatMap(([k, v]) => [el('dt', '', k), el('dd', '', v)]));
    $('detail-tags-part').hidden = own.length === 0;
    $('detail-model').textContent = info.model ? t('taggedBy')(info.model) : '';
    for (const { part, draw } of PARTS) {
      const section = document.querySelector('[data-part="' + part + '"]');
      if (section) Promise.resolve(draw(info, section)).catch(() => { section.hidden = true; });
    }
  }
  rerender.push(drawDetail);

  async function showDetail(key) {
    const mine = ++detailGeneration;
    shownInfo = undefined;
    const img = $('detail-image');
    img.hidden = true;
    img.removeAttribute('src');
    for (const id of ['detail-labels-part', 'detail-tags-part']) $(id).hidden = true;
    for (const s of document.querySelectorAll('[data-part]')) s.hidden = true;
    $('detail-model').textContent = '';
    $('detail-name').textContent = baseName(key);
    $('detail-status').textContent = t('loading');
    $('detail-status').className = '';
    let info;
    try {
      const res = await api(imageUrl(key), { cache: 'no-store' });
      const body = await readJson(res);
      if (!res.ok) throw fail(apiError(body, res));
      info = body.status === 'pending' ? await waitForTags(key).catch(() => body) : body;
    } catch (err) {
      info = { key, error: detailOf(err) };
    }
    if (mine !== detailGeneration) return;
    shownInfo = info;
    if (info.url && (info.status === 'ok' || info.status === 'pending')) {
      img.alt = baseName(key);
      img.src = info.url;
      img.hidden = false;
    }
    drawDetail();
  }
  $('detail-image').addEventListener('error', () => {
    $('detail-image').hidden = true;
    if (shownInfo && !shownInfo.error) $('detail-status').textContent += ' ' + t('noImage');
  });

  // ---- Duplicate groups (?view=duplicates): GET duplicates, newest first, More follows the cursor.
  const groupsShown = [];
  let groupsCursor, groupsError, groupsLoading = false, groupsGeneration = 0;
  function groupCard(group) {
    const li = el('li', 'group');
    li.append(el('h3', '', t('groupOf')(group.size || group.items.length)),
      strip(group.items, (item, i) => (i === 0 ? t('original') : t('tier')[item.tier] || ''), false));
    return li;
  }
  function drawGroups() {
    $('groups').replaceChildren(...groupsShown.map(groupCard));
    const st = $('dups-status');
    st.className = groupsError ? 'error' : '';
    st.textContent = groupsError ? errorText(groupsError) : groupsLoading && groupsShown.length === 0 ? t('loading') :
      groupsShown.length ? t('groupsFound')(groupsShown.length, Boolean(groupsCursor)) : t('noGroups');
    $('more-groups').hidden = !groupsCursor;
  }
  rerender.push(drawGroups);
  async function loadGroups(fresh) {
    const mine = fresh ? ++groupsGeneration : groupsGeneration;
    if (fresh) { groupsShown.length = 0; groupsCursor = undefined; }
    groupsError = undefined;
    groupsLoading = true;
    $('more-groups').disabled = true;
    drawGroups();
    try {
      const params = new URLSearchParams({ limit: '20' });
      if (groupsCursor) params.set('cursor', groupsCursor);
      const res = await api('duplicates?' + params.toString(), { cache: 'no-store' });
      const body = await readJson(res);
      if (mine !== groupsGeneration) return;
      if (!res.ok) throw fail(apiError(body, res));
      groupsShown.push(...(body.groups || []));
      groupsCursor = body.cursor;
    } catch (err) {
      if (mine === groupsGeneration) groupsError = detailOf(err);
    } finally {
      if (mine === groupsGeneration) {
        groupsLoading = false;
        $('more-groups').disabled = false;
        drawGroups();
      }
    }
  }
  $('more-groups').addEventListener('click', () => loadGroups(false));

  // ---- Taught names (?view=names, and "name these"): an editor selects tiles, types a name and
  // PUTs labels/<name>; the page says what it was understood as and how many stored images carry it.
  /** The taught names this page has seen (taught here, or listed): searched as one word (label=). */
  const knownNames = new Set();
  /** The selected images (key -> item), across searches and views, until taught or cleared. */
  const picked = new Map();
  /** The name bar's last word: {text: () => string, error?, name?}. */
  let teachNote, teaching = false;
  function pickBox(item, li) {
    const box = el('label', 'pick');
    const input = el('input');
    input.type = 'checkbox';
    input.checked = picked.has(item.key);
    input.setAttribute('aria-label', t('pickOne')(baseName(item.key)));
    li.classList.toggle('picked', input.checked);
    input.addEventListener('change', () => {
      if (input.checked) picked.set(item.key, item);
      else picked.delete(item.key);
      if (input.checked) teachNote = undefined;
      syncPicks();
    });
    box.append(input);
    return box;
  }
  /** Every tile of a selected image shows it selected (one image may be in the results and a strip). */
  function syncPicks() {
    for (const li of document.querySelectorAll('.tile[data-key]')) {
      const input = li.querySelector('.pick input');
      if (!input) continue;
      input.checked = picked.has(li.dataset.key);
      li.classList.toggle('picked', input.checked);
    }
    drawNameBar();
  }
  function drawNameBar() {
    const n = picked.size;
    $('name-bar').hidden = !canTeach() || (n === 0 && !teachNote);
    $('picked-count').textContent = n ? t('picked')(n) : '';
    $('clear-picks').hidden = n === 0;
    $('name-line').hidden = n === 0;
    $('teach').disabled = teaching || n < 3 || n > 100;
    $('name-input').placeholder = t('namePlaceholder');
    $('name-input').setAttribute('aria-label', t('nameLabel'));
    const note = $('teach-note');
    note.className = teachNote && teachNote.error ? 'error' : '';
    note.replaceChildren();
    if (!teachNote) return;
    note.append(el('span', '', teachNote.text() + ' '));
    if (teachNote.name) {
      const show = el('button', 'plain', t('showNamed'));
      show.type = 'button';
      const name = teachNote.name;
      show.addEventListener('click', () => searchFor(name));
      note.append(show, ' ');
    }
    if (!teaching) {
      const close = el('button', 'plain', t('close'));
      close.type = 'button';
      close.addEventListener('click', () => { teachNote = undefined; drawNameBar(); });
      note.append(close);
    }
  }
  rerender.push(drawNameBar);
  $('clear-picks').addEventListener('click', () => { picked.clear(); syncPicks(); });
  const labelUrl = (name) => 'labels/' + encodeURIComponent(name);
  /** A refusal of an editor's route says who may (the API's own words name the route). */
  const refusal = (error) =>
    error.code === 'Forbidden' ? t('editorsOnly')
      : error.code === 'InvalidArgument' && /^the name /.test(error.message || '') ? t('badName') : errorText(error);
  $('name-bar').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('name-input').value.trim();
    if (!name || teaching || picked.size < 3 || picked.size > 100) return;
    teaching = true;
    teachNote = { text: () => t('teaching')(name) };
    drawNameBar();
    try {
      const headers = { 'content-type': 'application/json' };
      if (session && session.id) headers['x-id-token'] = session.id;
      const res = await api(labelUrl(name), { method: 'PUT', headers,
        body: JSON.stringify({ examples: [...picked.keys()] }) });
      const body = await readJson(res);
      if (!res.ok) throw fail(apiError(body, res));
      const created = res.status === 201;
      knownNames.add(normal(body.name));
      teachNote = { text: () => t('taught')(body, created), name: body.name };
      picked.clear();
      $('name-input').value = '';
      // The stored images that match carry the name now: what is shown is read again.
      if (route.current === 'detail' && shownInfo) showDetail(shownInfo.key);
      else if (route.current === 'names') showNames();
      else searchAgainSoon();
    } catch (err) {
      const error = detailOf(err);
      teachNote = { text: () => refusal(error), error: true };
    } finally {
      teaching = false;
      syncPicks();
    }
  });
  function searchFor(word) {
    if (route.current !== 'home') goHome();
    $('search').value = word;
    query = word;
    newSearch();
  }

  let namesList, namesError, namesNote, namesGeneration = 0;
  function nameRow(label) {
    const li = el('li', 'taught-name');
    li.dataset.name = label.name;
    const head = el('div', 'head');
    head.append(el('strong', 'name', label.name));
    const actions = el('div', 'actions');
    const show = el('button', 'plain', t('showNamed'));
    show.type = 'button';
    show.addEventListener('click', () => searchFor(label.name));
    actions.append(show);
    if (canTeach()) {
      const del = el('button', 'danger', t('deleteName'));
      del.type = 'button';
      del.addEventListener('click', () => deleteName(label.name, del));
      actions.append(del);
    }
    li.append(head, el('div', 'muted facts', t('nameFacts')(label)), actions);
    return li;
  }
  function drawNames() {
    $('names-how').textContent = canTeach() ? t('namesHow') : t('namesHowViewer');
    const st = $('names-status');
    st.className = namesError ? 'error' : '';
    st.textContent = namesError ? (namesError.code === 'NotFound' ? t('namesOff') : errorText(namesError)) :
      !namesList ? t('loading') : namesList.length ? t('namesCount')(namesList.length) : t('noNames');
    const note = $('names-note');
    note.textContent = namesNote ? namesNote.text() : '';
    note.className = namesNote && namesNote.error ? 'error' : '';
    $('name-list').replaceChildren(...(namesList || []).map(nameRow));
  }
  rerender.push(drawNames);
  async function showNames() {
    const mine = ++namesGeneration;
    namesError = undefined;
    drawNames();
    try {
      const res = await api('labels', { cache: 'no-store' });
      const body = await readJson(res);
      if (mine !== namesGeneration) return;
      if (!res.ok) throw fail(apiError(body, res));
      namesList = body.labels || [];
      for (const l of namesList) knownNames.add(normal(l.name));
    } catch (err) {
      if (mine !== namesGeneration) return;
      namesList = undefined;
      namesError = detailOf(err);
    }
    drawNames();
  }
  async function deleteName(name, button) {
    if (!confirm(t('confirmDelete')(name))) return;
    button.disabled = true;
    try {
      const res = await api(labelUrl(name), { method: 'DELETE' });
      const body = await readJson(res);
      if (!res.ok) throw fail(apiError(body, res));
      namesNote = { text: () => t('deleted')(body.name || name, body.removed || 0) };
    } catch (err) {
      const error = detailOf(err);
      namesNote = { text: () => refusal(error), error: true };
      button.disabled = false;
    }
    await showNames();
  }

  // ---- Views: home (upload, search), ?image=<key> (detail), ?view=duplicates, ?view=names.
  const VIEWS = { duplicates: 'dups-view', names: 'names-view' };
  function goHome() {
    history.pushState({ from: 'page' }, '', location.pathname);
    route();
  }
  for (const a of document.querySelectorAll('#views a')) inPage(a);
  for (const a of document.querySelectorAll('#back, .back')) a.addEventListener('click', (e) => {
    e.preventDefault();
    // Back to where the view was opened from (search results kept), or home for a shared link.
    if (history.state && history.state.from === 'page') history.back();
    else goHome();
  });
  function drawTitle() {
    if (!route.current || route.current === 'detail') return;
    document.title = route.current === 'home' ? t('title') :
      t(route.current === 'duplicates' ? 'duplicateGroups' : 'taughtNames') + ' · ' + t('title');
  }
  rerender.push(drawTitle);
  function route() {
    const params = new URLSearchParams(location.search);
    const key = params.get('image');
    const view = key ? 'detail' : Object.hasOwn(VIEWS, params.get('view')) ? params.get('view') : 'home';
    route.current = view;
    $('home').hidden = view !== 'home';
    $('detail').hidden = view !== 'detail';
    for (const [name, id] of Object.entries(VIEWS)) $(id).hidden = view !== name;
    if (view === 'detail') {
      showDetail(key);
      window.scrollTo(0, 0);
    } else {
      detailGeneration++;
      shownInfo = undefined;
      drawTitle();
    }
    if (view === 'duplicates') loadGroups(true);
    if (view === 'names') { namesNote = undefined; showNames(); }
  }
  window.addEventListener('popstate', route);

  applyLanguage();
  route();
})();
</script>
</body>
</html>
`;
