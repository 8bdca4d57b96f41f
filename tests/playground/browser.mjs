// Drives doorman's /playground page like a person would, in Debian's chromium (never a downloaded browser).
//
//   cd tests/playground && npm ci
//   node tests/playground/browser.mjs <base_url> [screenshot_dir]
//
// Chat: payslip request, cancel, employee number, a wrong code, the right code, the payslip card, a refused
// payslip of somebody else. Call: the keypad login. Assertions are on visible text; every step counts as
// passed or failed, and the last line is "N passed, M failed" (exit 1 when anything failed).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, shotDir] = process.argv.slice(2);
if (!base) {
  console.error("usage: node tests/playground/browser.mjs <base_url> [screenshot_dir]");
  process.exit(2);
}
const origin = new URL(base).origin;
const pageUrl = new URL("/playground", base).href;
const STEP_TIMEOUT = Number(process.env.PLAYGROUND_TIMEOUT_MS || 30000); // CI is a loaded 2-core machine
if (shotDir) mkdirSync(shotDir, { recursive: true });

let passed = 0;
let failed = 0;
let blocked = ""; // once a step of a story fails, the rest of that story cannot be meaningful

async function step(name, fn) {
  if (blocked) {
    failed++;
    console.log(`FAIL ${name} (not run: "${blocked}" failed before it)`);
    return;
  }
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed++;
    blocked = name;
    console.log(`FAIL ${name}\n     ${String(err?.message || err).split("\n").join("\n     ")}`);
  }
}

/** Polls `probe` until it returns a truthy value; fails naming `what` and the last thing seen. */
async function until(what, probe, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await probe();
    if (last && last.ok !== false) return last.value ?? last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last?.seen ?? last)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
let browser;
try {
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
} catch (err) {
  console.error(`cannot start chromium at ${executablePath}: ${err.message.split("\n")[0]}`);
  console.error("install Debian's: apt-get update && apt-get install -y chromium (or set CHROMIUM=/path/to/chromium)");
  console.log("0 passed, 1 failed");
  process.exit(1);
}
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US" });
const page = await context.newPage();
page.setDefaultTimeout(STEP_TIMEOUT);

const foreign = [];
const pageErrors = [];
page.on("request", (req) => {
  const url = req.url();
  if (!url.startsWith("data:") && new URL(url).origin !== origin) foreign.push(url);
});
page.on("pageerror", (err) => pageErrors.push(String(err)));
page.on("console", (msg) => {
  // Chrome logs every 4xx as "Failed to load resource"; the refused payslip is such an answer on purpose.
  if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) pageErrors.push(msg.text());
});

const byTest = (id) => page.locator(`[data-testid="${id}"]`);
const texts = (id) => byTest(id).allInnerTexts();

/** Sends a chat message and waits for a new bot bubble (or card) whose text matches `expected`. */
async function chat(message, expected, testid = "bubble-bot") {
  const before = (await texts(testid)).length;
  await byTest("input").fill(message);
  await byTest("input").press("Enter");
  return until(`a "${testid}" matching ${expected} after "${message}"`, async () => {
    const all = await texts(testid);
    const fresh = all.slice(before);
    const hit = fresh.find((t) => expected.test(t));
    return hit ? { value: hit } : { ok: false, seen: fresh.length ? fresh : all.slice(-1) };
  });
}

/** Waits until the person's phone shows a new code (more deliveries than `before`) and returns it. */
async function newCode(before) {
  return until("a new code on the person's phone", async () => {
    const n = await byTest("delivery").count();
    if (n <= before) return { ok: false, seen: `${n} deliveries` };
    const code = (await byTest("delivery-code").first().innerText()).trim(); // the newest is on top
    return /^\d{4,10}$/.test(code) ? { value: code } : { ok: false, seen: code };
  });
}

async function visibleText(id, expected) {
  return until(`${id} to show ${expected}`, async () => {
    const t = await byTest(id).innerText();
    return expected.test(t) ? { value: t } : { ok: false, seen: t.slice(0, 300) };
  });
}

async function shot(name, viewport) {
  if (!shotDir) return;
  if (viewport) await page.setViewportSize(viewport);
  await page.waitForTimeout(400); // let the entry animations finish
  await page.screenshot({ path: join(shotDir, name) });
  if (viewport) await page.setViewportSize({ width: 1280, height: 800 });
}

const wrongOf = (code) => code.replace(/^\d/, (d) => String((Number(d) + 1) % 10));

// ------------------------------------------------------------------ chat
let code = "";
const LOAD = "the page loads with a hint to try a payslip";
const nextStory = () => { if (blocked !== LOAD) blocked = ""; }; // nothing runs without the page
await step(LOAD, async () => {
  const res = await page.goto(pageUrl, { waitUntil: "load" });
  if (!res || res.status() !== 200) throw new Error(`GET ${pageUrl} answered ${res?.status()}`);
  await visibleText("hint", /I want to check my payslip/i);
  if ((await texts("bubble-bot")).length !== 0) throw new Error("the bot spoke before the person did");
});
await step("asking for a payslip makes the bot ask for the employee number", () =>
  chat("I want to check my payslip", /employee number/i));
await step("cancel is understood", () => chat("cancel", /cancel/i));
await step("asking again restarts the dialog", () => chat("I want to check my payslip", /employee number/i));
await step("an employee number inside a sentence sends a code to ***78", async () => {
  const before = await byTest("delivery").count();
  await chat("My number is 4721.", /\*\*\*78/);
  code = await newCode(before);
});
await step("the state panel shows the pending challenge", () => visibleText("state-panel", /ask_code/));
await step("a wrong code leaves 2 attempts", () =>
  chat(`The code is ${wrongOf(code)}`, /Incorrect code\. You have 2 attempts remaining\./));
await step("the right code signs the person in", () => chat(`The code is ${code}`, /Identity verified/i));
await step("the payslip the person asked for shows up as a card", async () => {
  const card = await until("the payslip card", async () => {
    const cards = await texts("payslip-card");
    return cards.length ? { value: cards[cards.length - 1] } : { ok: false, seen: "no card" };
  });
  if (!/4721/.test(card)) throw new Error(`the card is not employee 4721's: ${card}`);
  if (!/200/.test(card)) throw new Error(`the card does not show the proxy's 200: ${card}`);
});
await step("the claims panel shows the decoded token of employees/4721", async () => {
  await visibleText("claims", /employees\/4721/);
  await visibleText("token-countdown", /expires in \d+:\d\d/);
});
await step("somebody else's payslip is refused by doorman", async () => {
  const refusal = await chat("payslip of 4722", /forbidden_resource/, "refusal");
  if (!/own data/i.test(refusal)) throw new Error(`the refusal does not explain itself: ${refusal}`);
  if (!/4722/.test(refusal)) throw new Error(`the refusal does not name the path asked for: ${refusal}`);
});
await step("a year in the sentence is not taken for an employee number", async () => {
  const card = await chat("Show my payslip for November 2026", /4721/, "payslip-card");
  if (!/200/.test(card)) throw new Error(`the card does not show the proxy's 200: ${card}`);
});
nextStory();
await step("screenshots of the chat", async () => {
  await shot("chat.png");
  await shot("chat-phone.png", { width: 390, height: 844 });
});

// ------------------------------------------------------------------ call
const press = async (keys) => {
  for (const k of keys) await byTest(`key-${k === "*" ? "star" : k === "#" ? "hash" : k}`).click();
};
async function spoken(expected, before) {
  return until(`a caption matching ${expected}`, async () => {
    const fresh = (await texts("caption")).slice(before);
    const hit = fresh.find((t) => expected.test(t));
    return hit ? { value: hit } : { ok: false, seen: fresh };
  });
}
await step("call mode starts a call that asks for the employee number", async () => {
  await byTest("mode-call").click();
  await byTest("call-screen").waitFor({ state: "visible" });
  await spoken(/employee number/i, 0);
});
await step("keys 4 7 2 1 # send a code", async () => {
  const before = await texts("caption");
  const deliveries = await byTest("delivery").count(); // the panel now shows the call's deliveries
  await press("4721#");
  await spoken(/code/i, before.length);
  code = await newCode(deliveries);
});
await step("typing the code on the keypad signs the person in", async () => {
  const before = (await texts("caption")).length;
  await press(code + "#");
  await spoken(/signed in/i, before);
  await visibleText("claims", /employees\/4721/);
  await visibleText("claims", /"voice"/);
});
nextStory();
await step("screenshots of the call", async () => {
  await shot("call.png");
  await shot("call-phone.png", { width: 390, height: 844 });
});

// ------------------------------------------------------------------ controls
await step("the language switch speaks Spanish", async () => {
  await byTest("mode-chat").click();
  await byTest("lang-es").click();
  const placeholder = await byTest("input").getAttribute("placeholder");
  if (placeholder !== "Escribe un mensaje") throw new Error(`placeholder is "${placeholder}"`);
  await byTest("lang-en").click();
});
await step("a new conversation starts from the hint with no token", async () => {
  const before = await byTest("conversation-id").innerText();
  await byTest("new-conversation").click();
  await visibleText("hint", /payslip/i);
  if ((await texts("bubble-me")).length) throw new Error("old messages are still shown");
  await visibleText("claims-panel", /Not signed in/i);
  const after = await byTest("conversation-id").innerText();
  if (after === before) throw new Error("the conversation id did not change");
});
await step("the page made no request to another origin", async () => {
  if (foreign.length) throw new Error(`foreign requests: ${foreign.join(", ")}`);
});
await step("the page logged no errors", async () => {
  if (pageErrors.length) throw new Error(pageErrors.join("\n"));
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
