/**
 * The page's views of copies and taught names in headless Chromium, against the real routes on one
 * `npm start` stack (test/helpers/local-stack.ts: local S3, DynamoDB, S3 Vectors, user pool; the
 * tagger records duplicates and applies taught names as it does on AWS). Few photos: eight small
 * ones dropped on the page at once by the editor npm start printed (three dogs, a golden retriever
 * with a byte-identical copy and a half-size re-encode of it, a lynx and a red panda).
 * - Copies (issue 25): a search collapses the retriever's copies into one tile with "+2 copies",
 *   which opens its duplicates; the duplicate groups view lists the group with tiers; English and
 *   Chinese, 390 px.
 * - Names (issue 26): the editor selects three dog tiles, names them, reads what the name was
 *   understood as and how many stored images carry it, finds them by the name, sees it in the detail
 *   view and the names view; a viewer gets no teach or delete controls; in Chinese a name is taught
 *   from the similar strip of a detail view; delete takes a name off.
 * Screenshots: test/artifacts/browser-copies-names/.
 */
import { readFile } from 'node:fs/promises';
import { AdminRemoveUserFromGroupCommand } from '@aws-sdk/client-cognito-identity-provider';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../../scripts/local/user-pool.ts';
import {
  type DroppedFile,
  dropFiles,
  latinWords,
  launchChromium,
  screenshot,
  skipUnlessChromium,
} from '../helpers/browser.ts';
import { type LocalStack, startLocalStack } from '../helpers/local-stack.ts';
import { photo, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const skip =
  skipUnlessShared('the copies and names page test') || skipUnlessChromium('the copies and names page test');
const ART = 'browser-copies-names';
const DOGS = ['167-English-foxhound.jpg', '187-Yorkshire-Terrier.jpg', '227-Australian-Kelpie.jpg'];
const RETRIEVERS = ['retriever.jpg', 'retriever-copy.jpg', 'retriever-small.jpg'];
const OTHERS = ['287-lynx.jpg', '387-red-panda.jpg'];
const FILES = [...DOGS, ...RETRIEVERS, ...OTHERS];
/** Bounded waits, generous for 2 loaded cores. */
const TAGGED_MS = 240_000;
const ANSWER_MS = 30_000;

describe.skipIf(skip)('the page on npm start: copies collapsed and grouped, names taught', () => {
  let stack: LocalStack;
  let browser: Browser;
  let viewer: { email: string; password: string };
  /** Everything each page printed as an error (console errors and uncaught exceptions). */
  const problems: string[] = [];

  async function signedIn(user: { email: string; password: string }): Promise<Page> {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (err) => void problems.push(err.message));
    await page.goto(`${stack.base}/`);
    await page.waitForSelector('#sign-in', { state: 'visible', timeout: ANSWER_MS });
    await page.fill('#email', user.email);
    await page.fill('#password', user.password);
    await page.click('#sign-in-go');
    await page.waitForSelector('#find', { state: 'visible', timeout: ANSWER_MS });
    return page;
  }
  const editor = () => signedIn(stack.user as { email: string; password: string });

  async function search(page: Page, word: string): Promise<void> {
    await page.fill('#search', word);
    await page.click('#go');
    await expect.poll(() => page.textContent('#found'), { timeout: ANSWER_MS }).not.toBe('Searching…');
  }
  const tiles = (page: Page, scope = '#gallery') =>
    page.$$eval(`${scope} .tile`, (els) =>
      els.map((e) => ({
        file: e.querySelector('.file')?.textContent ?? '',
        label: e.querySelector('.label')?.textContent ?? '',
        score: e.querySelector('.score')?.textContent ?? '',
        copies: e.querySelector('.copies')?.textContent ?? '',
        pick: e.querySelector('.pick input') !== null,
        names: Array.from(e.querySelectorAll('.tnames .chip')).map((c) => c.textContent),
      })),
    );
  /** Waits until every thumbnail within `scope` has loaded (none broken, none still grey). */
  async function thumbnailsLoaded(page: Page, scope: string): Promise<void> {
    await expect
      .poll(
        () =>
          page.$$eval(`${scope} img`, (imgs) =>
            imgs.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0),
          ),
        { timeout: ANSWER_MS },
      )
      .toBe(true);
    expect(await page.$$(`${scope} .nothumb`)).toHaveLength(0);
  }
  /** Ticks the select box of the tile showing `file` within `scope`. */
  async function pick(page: Page, file: string, scope = '#gallery'): Promise<void> {
    await page.locator(`${scope} .tile`, { hasText: file }).locator('.pick input').check();
  }
  const allowed = () => [
    ...FILES,
    'mobilenetv2-int8@1',
    'mobilenetv2-int8',
    stack.user?.email ?? '',
    'English',
  ];

  beforeAll(async () => {
    stack = await startLocalStack(['--model-dir', sharedModelFolder()]);
    browser = await launchChromium();
    viewer = { email: 'viewer@example.com', password: 'Viewer-pass-1234' };
    if (stack.pool) await addUser(stack.pool, viewer.email, { role: 'viewer', password: viewer.password });

    // The editor drops the eight photos at once; the tagger records the copies and the index their labels.
    const retriever = await readFile(photo('207-Golden-Retriever.jpg'));
    const files: DroppedFile[] = [
      ...(await Promise.all(
        [...DOGS, ...OTHERS].map(async (name) => ({
          name,
          mimeType: 'image/jpeg',
          buffer: await readFile(photo(name)),
        })),
      )),
      { name: 'retriever.jpg', mimeType: 'image/jpeg', buffer: retriever },
      { name: 'retriever-copy.jpg', mimeType: 'image/jpeg', buffer: retriever },
      {
        name: 'retriever-small.jpg',
        mimeType: 'image/jpeg',
        buffer: await sharp(retriever).resize({ width: 250 }).jpeg({ quality: 70 }).toBuffer(),
      },
    ];
    const page = await editor();
    await dropFiles(page, '#drop', files);
    // (expect.poll is for tests only: a bounded wait of the browser instead.)
    await page.waitForFunction(
      (n) => document.querySelectorAll('#uploads .card.done, #uploads .card.failed').length === n,
      FILES.length,
      { timeout: TAGGED_MS, polling: 500 },
    );
    expect(await page.$$eval('#uploads .card.failed .state', (els) => els.map((e) => e.textContent))).toEqual(
      [],
    );
    await page.close();
  }, 420_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 30_000);

  it('collapses copies into one tile with "+2 copies" that opens them; the duplicates view lists the group (English, 中文, 390 px)', async () => {
    const page = await editor();
    await search(page, 'dog');
    const found = await tiles(page);
    // Three dogs and one tile for the three retrievers.
    expect(found.map((t) => t.file).sort()).toEqual(
      [...DOGS, found.find((t) => RETRIEVERS.includes(t.file))?.file].sort(),
    );
    const group = found.find((t) => RETRIEVERS.includes(t.file));
    expect(group?.copies).toBe('+2 copies');
    for (const t of found) if (t !== group) expect(t.copies).toBe('');
    await thumbnailsLoaded(page, '#gallery');
    await screenshot(page, ART, 'search-collapsed');

    // The badge opens the representative's detail view at its duplicates: the two other retrievers.
    await page.locator('#gallery .tile .copies').click();
    const representative = group?.file ?? '';
    await expect.poll(() => page.textContent('#detail-name')).toBe(representative);
    expect(new URL(page.url()).hash).toBe('#duplicates');
    await expect.poll(() => page.isVisible('#part-duplicates .tile'), { timeout: ANSWER_MS }).toBe(true);
    const copies = await tiles(page, '#part-duplicates');
    expect(copies.map((t) => t.file).sort()).toEqual(RETRIEVERS.filter((f) => f !== representative).sort());
    // Same bytes: "same file"; the half-size re-encode: "edited copy".
    const sameBytes = (a: string, b: string) => a !== 'retriever-small.jpg' && b !== 'retriever-small.jpg';
    for (const t of copies)
      expect([t.file, t.label]).toEqual([
        t.file,
        sameBytes(t.file, representative) ? 'same file' : 'edited copy',
      ]);
    // Its similar images are other photos: the copies are not repeated there, a line leads to them.
    await expect
      .poll(() => page.textContent('#part-similar .copies-note'), { timeout: ANSWER_MS })
      .toBe('Its 2 copies are not repeated here: see Duplicates below');
    const similar = await tiles(page, '#part-similar');
    expect(similar.length).toBeGreaterThan(0);
    expect(similar.filter((t) => RETRIEVERS.includes(t.file))).toEqual([]);
    await thumbnailsLoaded(page, '#part-similar');
    await screenshot(page, ART, 'similar-without-copies-en');
    await page.click('#lang');
    await expect
      .poll(() => page.textContent('#part-similar .copies-note'), { timeout: ANSWER_MS })
      .toBe('这张照片的 2 个副本不在这里重复列出：见下方的“重复图片”');
    await screenshot(page, ART, 'similar-without-copies-zh');
    await page.click('#lang');
    await expect.poll(() => page.isVisible('#part-similar .copies-note'), { timeout: ANSWER_MS }).toBe(true);

    // The duplicate groups view: its own URL, one group of three, the representative first.
    await page.goBack();
    await expect.poll(() => page.isVisible('#views')).toBe(true);
    await page.click('#to-duplicates');
    await expect.poll(() => new URL(page.url()).searchParams.get('view')).toBe('duplicates');
    await expect
      .poll(() => page.textContent('#dups-status'), { timeout: ANSWER_MS })
      .toBe('1 group of copies, newest first');
    expect(await page.textContent('#groups .group h3')).toBe('3 copies of one photo');
    const members = await tiles(page, '#groups .group');
    expect(members.map((t) => t.file).sort()).toEqual([...RETRIEVERS].sort());
    expect(members[0]?.label).toBe('original');
    for (const t of members.slice(1)) expect(['same file', 'edited copy']).toContain(t.label);
    for (const t of members) expect(t.score).toMatch(/^\d{1,3}%$/);
    // Every thumbnail loads (no broken image).
    await thumbnailsLoaded(page, '#groups');
    await screenshot(page, ART, 'duplicates-en');
    // A shared link opens the view itself; in Chinese, every word; 390 px without sideways scrolling.
    await page.goto(`${stack.base}/?view=duplicates`);
    await page.click('#lang');
    await expect
      .poll(() => page.textContent('#dups-status'), { timeout: ANSWER_MS })
      .toBe('找到 1 组重复图片，最新的在前');
    expect(await page.textContent('#groups .group h3')).toBe('同一张照片的 3 个副本');
    expect((await tiles(page, '#groups .group'))[0]?.label).toBe('原图');
    expect(await page.title()).toBe('重复图片组 · 图像标注');
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await latinWords(page, allowed())).toEqual([]);
    await screenshot(page, ART, 'duplicates-zh-390px');
    await page.click('#lang');
    await page.close();
  }, 180_000);

  it('name these: three dog tiles named "My Dogs", understood as "dog, like these"; found by name, shown on images, listed; a viewer gets no controls; deleted', async () => {
    const page = await editor();
    await search(page, 'dog');
    // What a search for "dog" shows (the three dogs and the retriever's tile): the name covers the same.
    const dogTiles = (await tiles(page)).map((t) => t.file).sort();
    expect((await tiles(page)).every((t) => t.pick)).toBe(true);
    expect(await page.isHidden('#name-bar')).toBe(true);
    await pick(page, DOGS[0] as string);
    await pick(page, DOGS[1] as string);
    expect(await page.textContent('#picked-count')).toBe(
      '2 selected: pick at least 3 photos of what you want to name',
    );
    expect(await page.isDisabled('#teach')).toBe(true);
    await pick(page, DOGS[2] as string);
    expect(await page.textContent('#picked-count')).toBe('3 photos selected');
    await page.fill('#name-input', 'My Dogs');
    await page.click('#teach');
    await expect
      .poll(() => page.textContent('#teach-note span'), { timeout: ANSWER_MS })
      .toMatch(/^Taught "my dogs": understood as "dog, like these"\. \d+ stored images carry it/);
    const labelled = Number(
      /(\d+) stored images/.exec((await page.textContent('#teach-note span')) ?? '')?.[1],
    );
    // The three examples, the retriever and its copies; never the lynx or the red panda.
    expect(labelled).toBe(DOGS.length + RETRIEVERS.length);
    expect(await page.isChecked('#gallery .tile .pick input')).toBe(false);
    await screenshot(page, ART, 'named-en');

    // "Show its images": the search by the name finds the dogs (the retriever's copies collapsed).
    await page.click('#teach-note button:has-text("Show its images")');
    await expect
      .poll(() => page.textContent('#found'), { timeout: ANSWER_MS })
      .toBe(`${dogTiles.length} images labelled "my dogs", best first`);
    expect((await tiles(page)).map((t) => t.file).sort()).toEqual(dogTiles);
    const named = await tiles(page);
    expect(named.every((t) => t.label === 'my dogs')).toBe(true);
    expect(named.map((t) => t.file).filter((f) => OTHERS.includes(f))).toEqual([]);

    // The detail view shows the name like a label, with its score.
    await page
      .locator('#gallery .tile', { hasText: DOGS[2] as string })
      .locator('a')
      .first()
      .click();
    await expect.poll(() => page.isVisible('#part-names'), { timeout: ANSWER_MS }).toBe(true);
    expect(await page.textContent('#part-names .row .label')).toBe('my dogs');
    expect(await page.textContent('#part-names .row .pct')).toMatch(/^\d{1,3}\.\d%$/);

    // The names view lists it, with what it was understood as, and the editor's delete button.
    await page.goto(`${stack.base}/?view=names`);
    await expect.poll(() => page.textContent('#names-status'), { timeout: ANSWER_MS }).toBe('1 name taught');
    expect(await page.textContent('.taught-name .name')).toBe('my dogs');
    expect(await page.textContent('.taught-name .facts')).toMatch(
      new RegExp(
        `^understood as "dog, like these" · ${labelled} stored images carry it · taught by you on \\d{4}-\\d\\d-\\d\\d$`,
      ),
    );
    expect(await page.isVisible('.taught-name button.danger')).toBe(true);
    await screenshot(page, ART, 'names-en');

    // A viewer reads the names and searches by one, but gets no select boxes, name bar or delete button.
    const seen = await signedIn(viewer);
    // (Viewers read only: no drop zone, and a line saying who may upload.)
    expect(await seen.isHidden('#drop')).toBe(true);
    expect(await seen.textContent('#no-upload')).toBe(
      "You can search and view images; uploading needs a member's or an editor's account.",
    );
    await seen.click('#to-names');
    await expect.poll(() => seen.textContent('#names-status'), { timeout: ANSWER_MS }).toBe('1 name taught');
    expect(await seen.textContent('#names-how')).toBe(
      'Only editors teach and delete names; you can search by them.',
    );
    // Who taught it, by the e-mail address the API verified from the editor's ID token (not a user id).
    expect(await seen.textContent('.taught-name .facts')).toMatch(
      new RegExp(` · taught by ${stack.user?.email.replace(/[.]/g, '\\.')} on \\d{4}-\\d\\d-\\d\\d$`),
    );
    expect(await seen.$$('.taught-name button.danger')).toHaveLength(0);
    await seen.click('.taught-name button:has-text("Show its images")');
    await expect
      .poll(() => seen.textContent('#found'), { timeout: ANSWER_MS })
      .toBe(`${dogTiles.length} images labelled "my dogs", best first`);
    expect((await tiles(seen)).map((t) => t.file).sort()).toEqual(dogTiles);
    expect((await tiles(seen)).some((t) => t.pick)).toBe(false);
    expect(await seen.isHidden('#name-bar')).toBe(true);
    await seen.close();

    // Delete (after the browser's confirm): taken off every image; the search finds nothing.
    page.once('dialog', (d) => void d.accept());
    await page.click('.taught-name button.danger');
    await expect
      .poll(() => page.textContent('#names-note'), { timeout: ANSWER_MS })
      .toBe(`"my dogs" deleted: taken off ${labelled} images.`);
    await expect.poll(() => page.textContent('#names-status')).toBe('No name taught yet.');
    await page.goto(`${stack.base}/`);
    await expect.poll(() => page.isVisible('#find'), { timeout: ANSWER_MS }).toBe(true);
    await search(page, 'my dogs');
    expect(await tiles(page)).toEqual([]);
    await page.close();
  }, 180_000);

  it('中文: a name taught from the similar strip of a detail view, every word in Chinese, 390 px', async () => {
    const page = await editor();
    await page.click('#lang');
    // The foxhound's detail view (its key from the search), then three dogs of its similar strip.
    await page.goto(`${stack.base}/`);
    await expect.poll(() => page.isVisible('#find'), { timeout: ANSWER_MS }).toBe(true);
    await search(page, '狗');
    await page
      .locator('#gallery .tile', { hasText: DOGS[0] as string })
      .locator('a')
      .first()
      .click();
    await expect.poll(() => page.isVisible('#part-similar .tile'), { timeout: ANSWER_MS }).toBe(true);
    const similar = await tiles(page, '#part-similar');
    const dogs = similar.filter((t) => !OTHERS.includes(t.file)).slice(0, 3);
    expect(dogs).toHaveLength(3);
    for (const t of dogs) await pick(page, t.file, '#part-similar');
    expect(await page.textContent('#picked-count')).toBe('已选 3 张照片');
    // The box holds at most the 64 characters a name may have; a name the API refuses says why, in Chinese.
    await page.fill('#name-input', 'x'.repeat(200));
    expect((await page.inputValue('#name-input')).length).toBe(64);
    await page.fill('#name-input', '😀');
    await page.click('#teach');
    await expect
      .poll(() => page.textContent('#teach-note'), { timeout: ANSWER_MS })
      .toContain('名字要有字母、数字或汉字（表情符号不算），最多 64 个。');
    // (The browser logs the refused PUT's 400: the one error this test expects.)
    const refused = problems.findIndex((p) => p.includes('status of 400'));
    expect(refused).toBeGreaterThanOrEqual(0);
    problems.splice(refused, 1);
    await page.fill('#name-input', '我的狗');
    await page.click('#teach');
    await expect
      .poll(() => page.textContent('#teach-note span'), { timeout: ANSWER_MS })
      .toMatch(/^已教会“我的狗”：理解为“狗，类似这些”。现在有 \d+ 张已存图片带有这个名字/);
    expect(await latinWords(page, allowed())).toEqual([]);
    // An example's own detail view shows the name with its score, as its labels.
    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => page.isVisible('#part-similar .tile'), { timeout: ANSWER_MS }).toBe(true);
    await page
      .locator('#part-similar .tile', { hasText: dogs[0]?.file as string })
      .locator('a')
      .first()
      .click();
    await expect.poll(() => page.textContent('#detail-name')).toBe(dogs[0]?.file);
    await expect
      .poll(() => page.$$eval('#part-names .row .label', (els) => els.map((e) => e.textContent)), {
        timeout: ANSWER_MS,
      })
      .toContain('我的狗');
    expect(await page.textContent('#part-names h3')).toBe('教过的名字');
    expect(await latinWords(page, allowed())).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, ART, 'named-zh-390px');

    await page.goto(`${stack.base}/?view=names`);
    await expect.poll(() => page.textContent('#names-status'), { timeout: ANSWER_MS }).toBe('已教 1 个名字');
    expect(await page.textContent('.taught-name .name')).toBe('我的狗');
    expect(await page.textContent('.taught-name .facts')).toMatch(
      /^理解为“狗，类似这些” · 现在有 \d+ 张已存图片带有这个名字 · 由你于 \d{4}-\d\d-\d\d 教会$/,
    );
    expect(await latinWords(page, allowed())).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, ART, 'names-zh-390px');
    page.once('dialog', (d) => void d.accept());
    await page.click('.taught-name button.danger');
    await expect
      .poll(() => page.textContent('#names-note'), { timeout: ANSWER_MS })
      .toMatch(/^已删除“我的狗”：从 \d+ 张图片上去掉。$/);
    expect(await latinWords(page, allowed())).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 180_000);

  it('a 403 says why, in English and 中文; a viewer since moved to the members gets what a member gets (tokens refreshed on the 403)', async () => {
    const pool = stack.pool;
    if (!pool) throw new Error('the stack runs with a user pool');
    const like = {
      name: 'like-this.jpg',
      mimeType: 'image/jpeg',
      buffer: await sharp(await readFile(photo(DOGS[0] as string)))
        .resize({ width: 160 })
        .jpeg()
        .toBuffer(),
    };
    // A viewer's photo dropped on the search box (POST similar is for members): refused, and the page says why.
    const seen = await signedIn(viewer);
    await dropFiles(seen, '#search-form', [like]);
    await expect.poll(() => seen.getAttribute('#found', 'class'), { timeout: ANSWER_MS }).toBe('error');
    expect(await seen.textContent('#found')).toBe(
      "Your account may not do this (you are a viewer): it needs a member's or an editor's account. Ask an administrator to add you to a group that may.",
    );
    await seen.click('#lang');
    expect(await seen.textContent('#found')).toBe(
      '你的账号不能执行这个操作（你是查看者）：需要成员或编辑者账号。请让管理员把你加入有权限的用户组。',
    );
    expect(await latinWords(seen, [...allowed(), viewer.email])).toEqual([]);
    await screenshot(seen, ART, 'forbidden-zh');
    await seen.click('#lang');
    await seen.close();

    // A viewer an administrator has since moved to the members (the token still says viewer): the
    // refusal refreshes the tokens, the page redraws for a member and the drop goes through.
    const moved = { email: 'moved@example.com', password: 'Moved-pass-1234' };
    await addUser(pool, moved.email, { role: 'viewer', password: moved.password });
    const page = await signedIn(moved);
    expect(await page.isHidden('#drop')).toBe(true);
    await pool.client.send(
      new AdminRemoveUserFromGroupCommand({
        UserPoolId: pool.poolId,
        Username: moved.email,
        GroupName: 'viewers',
      }),
    );
    await dropFiles(page, '#search-form', [like]);
    await expect
      .poll(() => page.textContent('#found'), { timeout: ANSWER_MS })
      .toMatch(/^\d+ images? like like-this\.jpg, most similar first$/);
    expect(await page.isVisible('#drop')).toBe(true);
    expect(await page.isHidden('#no-upload')).toBe(true);
    await screenshot(page, ART, 'moved-to-members');
    await page.close();
  }, 120_000);
});
