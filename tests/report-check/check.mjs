// Loads a page in headless Chromium over the DevTools protocol (--remote-debugging-pipe: no port, no npm
// package) and prints JSON {title, images: [{src, complete, naturalWidth, naturalHeight}], errors} once the
// page has loaded; with a second argument, also saves a full-page screenshot PNG there.
// Usage: node check.mjs PAGE.html [SCREENSHOT.png]
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [page, screenshot] = process.argv.slice(2);
const browser = process.env.CHROMIUM ?? 'chromium';
const profile = mkdtempSync(join(tmpdir(), 'report-check-'));
const child = spawn(browser, ['--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe', `--user-data-dir=${profile}`,
  '--no-first-run', '--allow-file-access-from-files', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
let stderr = '';
child.stderr.on('data', d => { stderr += d; });
const timer = setTimeout(() => fail('timed out after 60 s'), 60000);
function fail(message) {
  console.error(`check.mjs: ${message}\n${stderr.slice(-2000)}`);
  child.kill('SIGKILL');
  rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}
child.on('error', e => fail(`cannot start ${browser}: ${e.message}`));

let nextId = 1, buffer = '';
const pending = new Map(), listeners = [];
child.stdio[4].on('data', chunk => {
  buffer += chunk;
  let end;
  while ((end = buffer.indexOf('\0')) >= 0) {
    const msg = JSON.parse(buffer.slice(0, end));
    buffer = buffer.slice(end + 1);
    if (msg.id && pending.has(msg.id)) {
      const { ok, ko } = pending.get(msg.id);
      pending.delete(msg.id);
      msg.error ? ko(new Error(JSON.stringify(msg.error))) : ok(msg.result);
    } else listeners.forEach(l => l(msg));
  }
});
function send(method, params = {}, sessionId) {
  const id = nextId++;
  child.stdio[3].write(JSON.stringify({ id, method, params, sessionId }) + '\0');
  return new Promise((ok, ko) => pending.set(id, { ok, ko }));
}

try {
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  const errors = [];
  listeners.push(m => {
    if (m.sessionId !== sessionId) return;
    if (m.method === 'Runtime.exceptionThrown') errors.push(m.params.exceptionDetails.text);
    if (m.method === 'Log.entryAdded' && m.params.entry.level === 'error') errors.push(m.params.entry.text + ' ' + (m.params.entry.url ?? ''));
  });
  await send('Page.enable', {}, sessionId);
  await send('Runtime.enable', {}, sessionId);
  await send('Log.enable', {}, sessionId);
  const loaded = new Promise(ok => listeners.push(m => { if (m.sessionId === sessionId && m.method === 'Page.loadEventFired') ok(); }));
  await send('Page.navigate', { url: pathToFileURL(resolve(page)).href }, sessionId);
  await loaded;
  const { result } = await send('Runtime.evaluate', {
    expression: `JSON.stringify({ title: document.title, images: [...document.images].map(i => ({ src: i.getAttribute('src'), complete: i.complete, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight })) })`,
    returnByValue: true }, sessionId);
  const report = JSON.parse(result.value);
  report.errors = errors;
  if (screenshot) {
    const { data } = await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId);
    writeFileSync(screenshot, Buffer.from(data, 'base64'));
  }
  console.log(JSON.stringify(report));
  clearTimeout(timer);
  const exited = new Promise(ok => child.on('exit', ok));
  send('Browser.close').catch(() => {});
  const killer = setTimeout(() => child.kill('SIGKILL'), 10000);
  await exited; // the profile folder is only removed once the browser no longer writes to it
  clearTimeout(killer);
  rmSync(profile, { recursive: true, force: true });
} catch (e) {
  fail(e.message);
}
