// End-to-end: the console in Debian's Chromium (playwright-core, no downloaded browser) against a
// running local stack behind the edge. deploy/local/console-e2e.sh starts one and runs this.
//   E2E_BASE_URL   the edge (console + API)                 default http://127.0.0.1:8080
//   E2E_SIMULATOR  the CrowdStrike Falcon simulator's URL   default http://127.0.0.1:9101
//   E2E_CHROMIUM   the browser binary                       default /usr/bin/chromium
//   E2E_SCREENSHOTS where page screenshots go              default docs/screenshots (repo root)
// Each run signs in to a new organization (dev sign-in), so runs do not see each other's installs.
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";

const BASE = process.env.E2E_BASE_URL ?? "http://127.0.0.1:8080";
const SIMULATOR = process.env.E2E_SIMULATOR ?? "http://127.0.0.1:9101";
const SHOTS = process.env.E2E_SCREENSHOTS ?? join(dirname(fileURLToPath(import.meta.url)), "../../docs/screenshots");
const ORG = randomUUID();
const OTHER_ORG = randomUUID();
const TIMEOUT = 20_000;
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.E2E_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const results = [];
let failed = 0;

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push(`ok    ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failed++;
    results.push(`FAIL  ${name}: ${error.message.split("\n").slice(0, 6).join("\n      ")}`);
    throw error;
  }
}

async function newUser(role, org = ORG) {
  const context = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  await page.goto(`/sign-in?org=${org}`);
  await page.getByRole("button", { name: `Sign in as ${role}` }).click();
  await page.getByRole("heading", { name: "Integration marketplace" }).waitFor();
  return page;
}

/** axe-core over the page as it is: no serious or critical violation. */
async function accessible(page, what) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.equal(
    bad.length,
    0,
    `${what}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`).join("; ")}`,
  );
}

/** Keyboard only: Tab until the focused element is the one named `label` (a real user's path). */
async function tabTo(page, label, max = 40) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(
      () => document.activeElement?.getAttribute("aria-label") || document.activeElement?.labels?.[0]?.textContent ||
        document.activeElement?.textContent || "",
    );
    if (focused.trim().replace(/\s*\*$/, "") === label) return;
  }
  throw new Error(`"${label}" is not reachable with Tab`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

let admin;
let installationId;
try {
  await step("browse the marketplace: categories with counts, results", async () => {
    admin = await newUser("admin");
    await admin.getByRole("heading", { name: /\d+ integrations/ }).waitFor();
    await admin.getByRole("group", { name: "Category" }).getByText("edr").waitFor();
    // The facets (heading, counts) and the results are separate requests: wait for the results.
    await admin.locator("ul.grid > li").nth(3).waitFor();
    await shot(admin, "01-marketplace-home");
    await accessible(admin, "home");
  });

  await step("filter by quality tier: only that tier's cards, then back to all", async () => {
    const tiers = admin.getByRole("group", { name: "Quality tier" });
    const silver = tiers.getByRole("checkbox", { name: /^silver \d+$/ });
    const count = Number((await tiers.getByText(/^silver \d+$/).innerText()).split(" ")[1]);
    // click, not check(): the box follows the URL, which the router updates in a transition.
    await silver.click();
    await admin.waitForFunction(() => location.search.includes("quality_tier=silver") &&
      document.querySelector("#quality_tier-silver")?.checked);
    await admin.getByRole("heading", { name: `${count} integrations` }).waitFor();
    await admin.getByRole("link", { name: "CrowdStrike Falcon", exact: true }).waitFor();
    await admin.waitForFunction((n) => document.querySelectorAll("ul.grid > li").length === n, count);
    const cards = admin.locator("ul.grid > li");
    assert.equal(await cards.count(), count);
    assert.equal(await cards.filter({ hasText: "Silver tier" }).count(), count, "every card shows the tier");
    await accessible(admin, "home filtered by tier");
    await silver.click();
    await admin.waitForFunction(() => !location.search.includes("quality_tier") &&
      document.querySelector("#quality_tier-silver")?.checked === false);
  });

  await step("search with a typo finds CrowdStrike", async () => {
    await admin.getByLabel("Search integrations").fill("crowdstrke");
    await admin.getByRole("heading", { name: /integrations? for “crowdstrke”/ }).waitFor();
    await admin.getByRole("link", { name: "CrowdStrike Falcon", exact: true }).waitFor();
    await shot(admin, "02-typo-search");
  });

  await step("integration detail", async () => {
    await admin.getByRole("link", { name: "CrowdStrike Falcon", exact: true }).click();
    await admin.getByRole("heading", { level: 1, name: "CrowdStrike Falcon" }).waitFor();
    await admin.getByRole("heading", { name: "Configuration requirements" }).waitFor();
    await admin.getByText("in the vault (secret)").waitFor();
    // What the credential needs at the vendor, and the tier explained by its criteria.
    const permissions = admin.getByRole("list", { name: "Required permissions" });
    await permissions.getByRole("listitem").first().waitFor();
    assert.ok((await permissions.getByRole("listitem").count()) >= 1);
    await admin.getByText(/^about \d+ min$/).waitFor();
    await admin.getByRole("list", { name: "Conformance criteria" }).waitFor();
    // Version history from the catalog's record of the registry.
    await admin.getByRole("list", { name: "Version history" }).getByText(/added to the marketplace/).waitFor();
    // Write a review; it is listed at once and the form goes (one review per user).
    await admin.getByRole("textbox", { name: "Title" }).fill("Alerts arrived on the first sync");
    await admin.getByRole("textbox", { name: "Review" }).fill("Set up against the simulator in a minute.");
    await admin.getByRole("button", { name: "Publish review" }).click();
    await admin.getByRole("listitem", { name: "Alerts arrived on the first sync" }).waitFor();
    assert.equal(await admin.getByRole("button", { name: "Publish review" }).count(), 0);
    await shot(admin, "03-integration-detail");
    await accessible(admin, "detail");
  });

  await step("wizard: a wrong secret shows the classified error", async () => {
    await admin.getByRole("link", { name: "Configure & Install" }).click();
    await admin.getByRole("heading", { name: "Set up CrowdStrike Falcon" }).waitFor();
    await admin.getByLabel("API base URL").fill(SIMULATOR);
    await admin.getByLabel("API client ID").fill("demo-client-id");
    const secret = admin.getByLabel("API client secret");
    assert.equal(await secret.getAttribute("type"), "password", "the secret field is masked");
    await secret.fill("not-the-secret");
    await admin.getByRole("button", { name: "Test connection" }).click();
    const alert = admin.getByRole("alert").filter({ hasText: "Connection failed" });
    await alert.waitFor();
    assert.match(await alert.innerText(), /refused the credentials/);
    assert.ok(await admin.getByRole("button", { name: "Next: data mapping" }).isDisabled());
    // Tested before anything is saved: the installation is a draft without configuration or credential.
    const draft = await admin.evaluate(async () => {
      const token = sessionStorage.getItem("aria.session");
      const r = await fetch("/v1/installations", { headers: { authorization: `Bearer ${token}` } });
      return (await r.json()).items[0];
    });
    assert.equal(draft.status, "configuring");
    assert.equal(draft.config_version, null);
    assert.deepEqual(draft.secret_fields, []);
    await shot(admin, "04-wizard-wrong-secret");
    await accessible(admin, "wizard credentials");
  });

  await step("wizard: the right secret passes, mapping preview, activate", async () => {
    await admin.getByLabel("API client secret").fill("demo-client-secret");
    await admin.getByRole("button", { name: "Test connection" }).click();
    await admin.getByRole("status").filter({ hasText: "Connection works" }).waitFor();
    await admin.getByRole("button", { name: "Next: data mapping" }).click();
    // Going forward drops the secret from the form's memory (never echoed back).
    await admin.getByRole("button", { name: "Back" }).click();
    assert.equal(await admin.getByLabel("API client secret").inputValue(), "", "secret not kept");
    assert.equal(await admin.getByLabel("API client ID").inputValue(), "demo-client-id", "settings kept");
    assert.ok(await admin.getByRole("button", { name: "Next: data mapping" }).isDisabled(), "a new test is needed");
    await admin.getByLabel("API client secret").fill("demo-client-secret");
    await admin.getByRole("button", { name: "Test connection" }).click();
    await admin.getByRole("status").filter({ hasText: "Connection works" }).waitFor();
    await admin.getByRole("button", { name: "Next: data mapping" }).click();
    await admin.getByRole("button", { name: "Preview sample events" }).click();
    const table = admin.getByRole("table", { name: "Records per entity type" });
    await table.waitFor();
    assert.match(await table.innerText(), /risk\s+\d+/);
    const riskSample = () => table.getByRole("row", { name: /^risk/ }).getByRole("cell").last().innerText();
    const before = await riskSample();
    // Edit the mapping: risk titles from the alert's tactic instead of its name; preview it unsaved.
    const riskMapping = admin.getByRole("table", { name: /alerts → risk/ });
    await riskMapping.getByLabel("title", { exact: true }).fill("tactic");
    await admin.getByText("1 mapping(s) edited").waitFor();
    await admin.getByRole("button", { name: "Preview sample events" }).click();
    await admin.waitForFunction(
      (previous) => {
        const row = [...document.querySelectorAll("table tr")].find((r) => r.querySelector("th")?.textContent === "risk");
        return row && row.lastElementChild?.textContent !== previous;
      },
      before,
    );
    assert.notEqual(await riskSample(), before, "the preview maps with the edited mapping");
    await shot(admin, "05-wizard-mapping-preview");
    await accessible(admin, "wizard preview");
    await admin.getByRole("button", { name: "Next: test & activate" }).click();
    await shot(admin, "06-wizard-activate");
    await admin.getByRole("button", { name: "Activate" }).click();
    await admin.getByRole("heading", { name: "My integrations" }).waitFor();
  });

  await step("My integrations: active, records synced per entity type", async () => {
    const card = admin.getByRole("listitem", { name: "CrowdStrike Falcon" });
    await card.getByText("Active").waitFor();
    // The sync runs in sync-runner; the page polls while it runs.
    await admin.waitForFunction(
      () => parseInt(document.querySelector("[data-testid=records]")?.textContent ?? "") > 0,
      null,
      { timeout: 60_000 },
    );
    // Records synced per entity type: CrowdStrike's alerts as risks, its hosts as assets.
    const counts = card.getByRole("list", { name: "Records synced per entity type" });
    await counts.getByText(/^risk [\d,]+$/).waitFor();
    await counts.getByText(/^asset [\d,]+$/).waitFor();
    installationId = await admin.evaluate(async () => {
      const token = sessionStorage.getItem("aria.session");
      const r = await fetch("/v1/installations", { headers: { authorization: `Bearer ${token}` } });
      return (await r.json()).items[0].id;
    });
    await shot(admin, "07-my-integrations");
    await accessible(admin, "my integrations");
  });

  await step("sync now: requested, then the new job's counts", async () => {
    const card = admin.getByRole("listitem", { name: "CrowdStrike Falcon" });
    const records = card.getByTestId("records");
    const before = await records.getAttribute("data-job");
    await card.getByRole("button", { name: "Sync now" }).click();
    await admin.waitForFunction(
      (previous) => {
        const dd = document.querySelector("[data-testid=records]");
        return dd && dd.getAttribute("data-job") !== previous && parseInt(dd.textContent ?? "") > 0 && !document.querySelector("progress");
      },
      before,
      { timeout: 60_000 },
    );
  });

  await step("view logs: activity, sync jobs, credential audit, webhook deliveries", async () => {
    await admin.getByRole("listitem", { name: "CrowdStrike Falcon" }).getByRole("link", { name: "View logs" }).click();
    await admin.getByRole("heading", { name: /^Logs:/ }).waitFor();
    const panel = admin.getByRole("tabpanel");
    await panel.getByRole("cell", { name: "test" }).first().waitFor();
    assert.match(await panel.innerText(), /state change/);
    assert.match(await panel.innerText(), /mapping alerts -> risk updated/, "the edited mapping was saved on activate");
    await shot(admin, "08-logs-activity");
    await accessible(admin, "logs");
    await admin.getByRole("tab", { name: "Sync jobs" }).click();
    await admin.getByRole("tabpanel").getByText("completed").first().waitFor();
    // The credential audit (vault-gateway's, through the installer): stored by the installer,
    // leased by sync-runner for the syncs; never a value.
    await admin.getByRole("tab", { name: "Credential audit" }).click();
    const audit = admin.getByRole("table", { name: "Credential audit, newest first" });
    await audit.getByRole("cell", { name: "service:sync-runner" }).first().waitFor();
    assert.match(await audit.innerText(), /store[\s\S]*service:installer/);
    assert.doesNotMatch(await audit.innerText(), /demo-client-secret/);
    await accessible(admin, "logs credential audit");
    await admin.getByRole("tab", { name: "Webhook deliveries" }).click();
    await admin.getByText("No webhook deliveries have reached this installation.").waitFor();
    await admin.getByRole("link", { name: "← My integrations" }).click();
    await admin.getByRole("heading", { name: "My integrations" }).waitFor();
  });

  await step("an operator can sync but not configure; a viewer cannot install", async () => {
    const operator = await newUser("operator");
    await operator.goto("/integrations/installed");
    const card = operator.getByRole("listitem", { name: "CrowdStrike Falcon" });
    await card.getByRole("button", { name: "Sync now" }).waitFor();
    assert.equal(await card.getByRole("link", { name: "Configure" }).count(), 0);
    assert.equal(await card.getByRole("button", { name: "Uninstall" }).count(), 0);
    await operator.context().close();

    const viewer = await newUser("viewer");
    await viewer.getByRole("heading", { name: /\d+ integrations/ }).waitFor();
    await viewer.locator("ul.grid > li").nth(3).waitFor();
    assert.equal(await viewer.getByRole("link", { name: /^Install / }).count(), 0, "no Install buttons");
    await shot(viewer, "10-viewer-home");
    // Any role may vote a review helpful.
    await viewer.goto("/integrations/crowdstrike_falcon");
    const review = viewer.getByRole("listitem", { name: "Alerts arrived on the first sync" });
    await review.getByRole("button", { name: "Helpful", exact: true }).click();
    await review.getByTestId("helpful").filter({ hasText: "1" }).waitFor();
    await viewer.goto("/integrations/qualys_vmdr");
    await viewer.getByRole("heading", { level: 1 }).waitFor();
    assert.equal(await viewer.getByRole("link", { name: "Configure & Install" }).count(), 0);
    await viewer.goto("/integrations/qualys_vmdr/install");
    await viewer.getByRole("alert").filter({ hasText: "Admins only" }).waitFor();
    await viewer.goto("/integrations/installed");
    const vcard = viewer.getByRole("listitem", { name: "CrowdStrike Falcon" });
    await vcard.waitFor();
    assert.equal(await vcard.getByRole("button").count(), 0, "a viewer has no actions");
    await viewer.context().close();
  });

  let stranger;
  await step("another organization's installation is not found", async () => {
    stranger = await newUser("admin", OTHER_ORG);
    await stranger.goto("/integrations/installed");
    await stranger.getByText("Nothing here yet.").waitFor();
    const status = await stranger.evaluate(async (id) => {
      const token = sessionStorage.getItem("aria.session");
      return (await fetch(`/v1/installations/${id}`, { headers: { authorization: `Bearer ${token}` } })).status;
    }, installationId);
    assert.equal(status, 404);
  });

  await step("the wizard works with the keyboard alone", async () => {
    const page = stranger;
    await page.goto("/integrations/crowdstrike_falcon/install");
    await page.getByRole("heading", { name: "Set up CrowdStrike Falcon" }).waitFor();
    await tabTo(page, "API base URL");
    await page.keyboard.press("Control+A");
    await page.keyboard.type(SIMULATOR);
    await tabTo(page, "API client ID");
    await page.keyboard.type("demo-client-id");
    await tabTo(page, "API client secret");
    await page.keyboard.type("demo-client-secret");
    await page.keyboard.press("Enter"); // submits the form: Test connection
    await page.getByRole("status").filter({ hasText: "Connection works" }).waitFor();
    await tabTo(page, "Next: data mapping");
    await page.keyboard.press("Enter");
    await tabTo(page, "Preview sample events");
    await page.keyboard.press("Enter");
    await page.getByRole("table", { name: "Records per entity type" }).waitFor();
    await tabTo(page, "Next: test & activate");
    await page.keyboard.press("Enter");
    await tabTo(page, "Activate");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "My integrations" }).waitFor();
    await page.getByRole("listitem", { name: "CrowdStrike Falcon" }).getByText("Active").waitFor();
  });

  await step("a webhook integration: saved without a vendor call, URL and secret to copy", async () => {
    const page = stranger;
    await page.goto("/integrations/generic_webhook/install");
    await page.getByRole("heading", { name: /^Set up Generic Webhook/ }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Test connection" }).count(), 0, "nothing to test against");
    await page.getByLabel("Signing secret").fill("a-signing-secret-of-at-least-32-characters");
    await page.getByRole("button", { name: "Save and continue" }).click();
    await page.getByText("receives its data by webhooks").waitFor();
    await page.getByRole("button", { name: "Next: test & activate" }).click();
    const url = page.getByLabel(/^Webhook URL/);
    await url.waitFor();
    assert.match(await url.inputValue(), /\/v1\/webhooks\/[0-9a-f-]{36}/);
    await page.getByRole("button", { name: "Generate a new signing secret" }).click();
    const secret = page.getByLabel("New signing secret (shown this once)");
    await secret.waitFor();
    assert.ok((await secret.inputValue()).length >= 32);
    const [hookUrl, signingSecret] = [await url.inputValue(), await secret.inputValue()];
    assert.ok(hookUrl.startsWith(BASE), `vendors post through the edge (${hookUrl})`);
    await shot(page, "09-wizard-webhooks");
    await accessible(page, "wizard webhooks");
    await page.getByRole("button", { name: "Activate" }).click();
    await page.getByRole("heading", { name: "My integrations" }).waitFor();
    await page.getByRole("listitem", { name: "Generic Webhook (HMAC)" }).getByText("Active").waitFor();
    // A signed delivery through the edge is accepted once webhook-ingest has heard of the enabled
    // installation (the lifecycle event is asynchronous).
    const body = JSON.stringify({ events: [{ type: "risk", id: "e2e-1", title: "Console e2e risk", severity: "high" }] });
    let status = 0;
    for (let i = 0; i < 40 && !(status >= 200 && status < 300); i++) {
      const ts = String(Math.floor(Date.now() / 1000));
      const signature = createHmac("sha256", signingSecret).update(`${ts}.${body}`).digest("hex");
      status = (
        await fetch(hookUrl, {
          method: "POST",
          body,
          headers: {
            "content-type": "application/json",
            "x-aria-timestamp": ts,
            "x-aria-signature": `sha256=${signature}`,
            "x-aria-delivery-id": randomUUID(),
          },
        })
      ).status;
      if (!(status >= 200 && status < 300)) await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(status >= 200 && status < 300, `signed webhook through the edge answered ${status}`);
    // The delivery is in the installation's logs (webhook-ingest's log, through the installer).
    await page.getByRole("listitem", { name: "Generic Webhook (HMAC)" }).getByRole("link", { name: "View logs" }).click();
    await page.getByRole("tab", { name: "Webhook deliveries" }).click();
    const deliveries = page.getByRole("table", { name: "Webhook deliveries, newest first" });
    await deliveries.getByText("accepted").first().waitFor();
    await accessible(page, "logs webhook deliveries");
    await page.context().close();
  });

  await step("disable, then uninstall with a confirmation", async () => {
    const card = admin.getByRole("listitem", { name: "CrowdStrike Falcon" });
    await card.getByRole("button", { name: "Disable" }).click();
    await card.getByText("Inactive").waitFor();
    await card.getByRole("button", { name: "Uninstall" }).click();
    const dialog = admin.getByRole("alertdialog");
    await dialog.getByText(/credentials are destroyed/).waitFor();
    await shot(admin, "11-uninstall-confirmation");
    await accessible(admin, "uninstall dialog");
    await dialog.getByRole("button", { name: "Uninstall and destroy credentials" }).click();
    await admin.getByText("Nothing here yet.").waitFor();
  });

  await step("try demo: a marked sandbox against the simulator, then thrown away", async () => {
    const page = await newUser("admin", randomUUID());
    await page.goto("/integrations/crowdstrike_falcon");
    await page.getByRole("heading", { level: 1, name: "CrowdStrike Falcon" }).waitFor();
    await page.getByRole("button", { name: "Try demo" }).click();
    await page.getByRole("heading", { name: "My integrations" }).waitFor();
    const card = page.getByRole("listitem", { name: "CrowdStrike Falcon (demo)" });
    await card.getByText("Demo", { exact: true }).waitFor();
    await card.getByText("Active").waitFor();
    // Sample data from the simulator, synced like a real installation's.
    const counts = card.getByRole("list", { name: "Records synced per entity type" });
    await counts.getByText(/^risk [\d,]+$/).waitFor({ timeout: 60_000 });
    await accessible(page, "demo card");
    // The detail page now opens the demo instead of starting another.
    await page.goto("/integrations/crowdstrike_falcon");
    await page.getByRole("link", { name: "Open demo" }).click();
    await card.getByRole("button", { name: "Throw away demo" }).click();
    await page.getByRole("alertdialog").getByRole("button", { name: "Throw away demo" }).click();
    await page.getByText("Nothing here yet.").waitFor();
    await page.context().close();
  });
} catch {
  // reported below
} finally {
  await browser.close();
}
console.log(results.join("\n"));
console.log(failed ? `console e2e: ${failed} step(s) failed` : `console e2e: ${results.length} steps passed`);
process.exit(failed ? 1 : 0);
