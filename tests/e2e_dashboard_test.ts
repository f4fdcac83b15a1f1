/**
 * The dashboard in a real headless Chromium against three main.ts processes: office serves it,
 * asks for its token, lists hub and factory, switches factory's plug-001 through the hub, shows
 * the change when its event arrives, and shows factory gone once it stops.
 *
 * With PORTAL_SCREENSHOT=docs/dashboard.png the screenshot for the README is written there;
 * otherwise into a temporary directory.
 */
import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { REPO_ROOT } from "./kit/mod.ts";
import { type LiveCluster, OFFICE_TOKEN, startLiveCluster } from "./helpers/live_cluster.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!haveChromium) {
  console.warn(`${CHROMIUM} is missing (Debian package 'chromium'): the dashboard test is skipped`);
}

/** Chromium's flags: headless, no sandbox (root in CI), nothing that reaches the network. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The page's document, as the functions run in the browser see it (tests have no DOM types). */
declare const document: { querySelector(selector: string): { textContent: string | null } | null };

/** Waits until the text of `selector` matches `want`, failing with what it showed last. */
async function text(page: Page, selector: string, want: RegExp, what: string, ms = 10_000) {
  try {
    await page.waitForFunction(
      (sel: string, src: string) => {
        const el = document.querySelector(sel);
        return el !== null && new RegExp(src).test(el.textContent ?? "");
      },
      { timeout: ms, polling: 50 },
      selector,
      want.source,
    );
  } catch {
    const shown = await page.$eval(selector, (el) => el.textContent).catch(() => "(absent)");
    throw new Error(`${what}: '${selector}' shows ${JSON.stringify(shown)}, not ${want}`);
  }
}

Deno.test({
  name:
    "browser: the dashboard at office lists factory, switches plug-001 by event, and sees factory go",
  ignore: !haveChromium,
  async fn() {
    const c: LiveCluster = await startLiveCluster();
    const profile = await Deno.makeTempDir({ prefix: "portal-chromium-" });
    let browser: Browser | null = null;
    try {
      browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [...FLAGS, `--user-data-dir=${profile}`],
      });
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 860 });
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(`page error: ${(e as Error).message}`));
      page.on("console", (m) => {
        // Answers the page expects (401 before sign-in, 404 for a node without devices) are not.
        if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
          problems.push(`console: ${m.text()}`);
        }
      });

      const first = await page.goto(`${c.officeUrl}/`);
      assert.equal(first?.status(), 200);
      const headers = first!.headers();
      assert.match(headers["content-security-policy"], /default-src 'self'/);
      assert.equal(headers["x-frame-options"], "DENY");

      // Office has a token: the page asks for it, and keeps it out of every URL.
      await page.waitForSelector("#login:not([hidden])", { timeout: 10_000 });
      await page.type("#token", "not-the-token");
      await page.click("#login-form button");
      await text(page, "#login-error", /wrong token/, "a wrong token is refused");
      await page.$eval("#token", (el) => ((el as unknown as { value: string }).value = ""));
      await page.type("#token", OFFICE_TOKEN);
      await page.click("#login-form button");
      await text(page, "#node-name", /office/, "signed in at office");
      assert.ok(!page.url().includes(OFFICE_TOKEN));

      await text(page, '#peers tr[data-peer="factory"] .status', /^via-hub$/, "factory via hub");
      await text(page, '#peers tr[data-peer="hub"] .status', /^connected$/, "hub connected");
      await text(page, '#peers tr[data-peer="factory"] .latency', /\d+(\.\d+)? ms/, "latency");
      await text(page, "#live", /^live$/, "the event stream is open");
      const plug = '.device[data-node="factory"][data-id="plug-001"]';
      await text(page, `${plug} .state`, /^off$/, "plug-001 starts off");

      await page.click(`${plug} button.on`);
      const feed = '#events li[data-topic="/node/factory/iot/devices/plug-001"] .what';
      await text(page, feed, /^on$/, "the change arrives as an event");
      await text(page, `${plug} .state`, /^on$/, "plug-001 shows on");

      const shot = Deno.env.get("PORTAL_SCREENSHOT");
      const path = shot ? `${REPO_ROOT}/${shot}` : `${profile}/dashboard.png`;
      await page.screenshot({ path, fullPage: true });
      assert.ok((await Deno.stat(path)).size > 10_000, "a real screenshot");

      await c.factory.stop();
      await text(page, '#peers tr[data-peer="factory"] .status', /^disconnected$/, "factory gone");
      await text(page, `${plug} button.on`, /On/, "the row stays");
      assert.ok(
        await page.$eval(
          `${plug} button.on`,
          (b) => (b as unknown as { disabled: boolean }).disabled,
        ),
        "no switching on a node that is gone",
      );
      assert.deepEqual(problems, []);
    } finally {
      await browser?.close();
      await c.stop();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
