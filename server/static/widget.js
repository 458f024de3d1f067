// The chat widget: one conversation over the WebSocket protocol (v2), plus the HTTP calls for
// the session, feedback and escalation.

import { ApiError, postJson } from "./api.js";
import { productCard } from "./cards.js";
import { ChatSocket } from "./connection.js";
import { el, svgEl } from "./dom.js";
import { STRINGS, format } from "./strings.js";

const PROTOCOL_VERSION = 2;
const TOKEN_KEY = "mangaassist.token";
const LANG_KEY = "mangaassist.lang";
const INIT_RETRY_MS = 3000;

const $ = (selector) => document.querySelector(selector);
const ui = {
  status: $(".status"),
  langToggle: $(".lang-toggle"),
  signinForm: $(".signin-form"),
  tokenInput: $("#token-input"),
  signout: $(".signout"),
  signinState: $(".signin-state"),
  banner: $(".banner"),
  messages: $(".messages"),
  chips: $(".chips"),
  composer: $(".composer"),
  input: $("#message-input"),
  send: $(".send"),
  agent: $(".agent"),
};

const state = {
  lang: sessionStorage.getItem(LANG_KEY) || ((navigator.language || "en").toLowerCase().startsWith("ja") ? "ja" : "en"),
  token: sessionStorage.getItem(TOKEN_KEY),
  sessionId: null,
  generation: 0,
  socketState: "connecting",
  // The answer being streamed: its view, the request id its frames carry, and the raw text so far.
  turn: null,
};

const strings = () => STRINGS[state.lang];

const socket = new ChatSocket(socketUrl, onFrame, (socketState) => {
  state.socketState = socketState;
  if (socketState !== "open" && state.turn) {
    // The server cancels a generation whose client went away, so this answer will never finish.
    failTurn(strings().interrupted);
  }
  renderStatus();
  updateControls();
});

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const params = new URLSearchParams({ protocol_version: String(PROTOCOL_VERSION), session_id: state.sessionId });
  if (state.token) params.set("token", state.token);
  return `${scheme}//${location.host}/v1/chat/ws?${params}`;
}

// ---------------------------------------------------------------- interface language

function applyStrings() {
  const s = strings();
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = s[node.dataset.i18n];
  for (const node of document.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", s[node.dataset.i18nLabel]);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = s[node.dataset.i18nPlaceholder];
  renderStatus();
  renderSignin();
}

function renderStatus() {
  const key = { open: "online", connecting: "connecting", reconnecting: "reconnecting" }[state.socketState];
  ui.status.dataset.state = state.socketState;
  ui.status.textContent = strings()[key];
}

// ---------------------------------------------------------------- messages

/**
 * Answer text with `**bold**` spans, built from text nodes only: model output never becomes markup.
 * An unclosed `**` stays literal until its closing half streams in.
 */
function setRichText(node, raw) {
  const parts = raw.split(/\*\*(.+?)\*\*/s);
  node.replaceChildren(
    ...parts.map((part, index) => (index % 2 === 1 ? el("strong", null, part) : document.createTextNode(part))),
  );
}

function scrollToEnd() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function addMessage(role, text) {
  const item = el("div", `msg msg-${role}`);
  const who = el("span", "visually-hidden");
  who.dataset.i18n = role === "user" ? "you" : "assistant";
  who.textContent = role === "user" ? strings().you : strings().assistant;
  const bubble = el("div", "bubble");
  const body = el("p", "text", text);
  bubble.append(body);
  item.append(who, bubble);
  ui.messages.append(item);
  scrollToEnd();
  return { item, bubble, body };
}

function addNotice(text, kind = "info") {
  const { item } = addMessage("notice", text);
  item.classList.add(`notice-${kind}`);
  return item;
}

function newRequestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function startTurn(message, requestId) {
  addMessage("user", message);
  const view = addMessage("assistant", "");
  view.item.classList.add("streaming");
  view.item.setAttribute("aria-busy", "true");
  state.turn = { view, requestId, raw: "" };
  updateControls();
}

function endTurn() {
  if (!state.turn) return;
  state.turn.view.item.classList.remove("streaming");
  state.turn.view.item.removeAttribute("aria-busy");
  state.turn = null;
  updateControls();
  ui.input.focus();
}

function failTurn(text) {
  const view = state.turn.view;
  if (!view.body.textContent) view.body.textContent = text;
  else view.bubble.append(el("p", "turn-error", text));
  view.item.classList.add("msg-error");
  endTurn();
}

function errorText(code) {
  const errors = strings().errors;
  return errors[code] || errors.default;
}

// ---------------------------------------------------------------- frames

function onFrame(frame) {
  if (frame.type === "error") {
    onErrorFrame(frame);
    return;
  }
  const turn = state.turn;
  if (!turn || frame.request_id !== turn.requestId) return; // a late frame of an older turn
  const body = turn.view.body;
  switch (frame.type) {
    case "token":
      turn.raw += frame.delta;
      setRichText(body, turn.raw);
      scrollToEnd();
      break;
    case "reset":
      turn.raw = ""; // a model tier gave up mid-answer; the next tier starts over
      setRichText(body, turn.raw);
      break;
    case "correction":
      turn.raw = frame.text;
      setRichText(body, turn.raw);
      break;
    case "final":
      renderResult(turn, frame.result);
      endTurn();
      break;
    default:
      break; // frame types from later protocol versions
  }
}

function onErrorFrame(frame) {
  const ours = state.turn && frame.request_id === state.turn.requestId;
  if (frame.code === "invalid_token") {
    setToken(null, strings().signinRejected);
    return;
  }
  if (frame.code === "session_not_found") {
    restart();
    return;
  }
  if (ours) failTurn(errorText(frame.code));
  else addNotice(errorText(frame.code), "error");
}

function renderResult(turn, result) {
  const { view } = turn;
  // The final text is authoritative: it heals any frame lost in between.
  setRichText(view.body, result.text);
  view.item.dataset.requestId = result.request_id;
  view.item.lang = result.language;
  const cardStrings = STRINGS[result.language] || strings();
  if (result.products && result.products.length) {
    const list = el("ul", "cards");
    for (const product of result.products) list.append(productCard(product, result.language, cardStrings));
    view.bubble.append(list);
  }
  view.bubble.append(feedbackControls(result.request_id));
  renderBanner(result.metadata && result.metadata.banner);
  renderChips(result.quick_replies || []);
  scrollToEnd();
}

// ---------------------------------------------------------------- feedback, escalation

/** A thumb drawn inline (emoji fonts vary); CSS turns it over for "down". */
function thumbIcon() {
  const svg = svgEl("svg", { viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false" });
  svg.append(svgEl("path", { d: "M2 10h4v11H2zM8 21h9.4a2 2 0 0 0 2-1.6l1.5-7.2A2 2 0 0 0 19 10h-5.3l.8-4.1a1.7 1.7 0 0 0-3-1.4L8 9.6z" }));
  return svg;
}

function feedbackControls(messageId) {
  const footer = el("div", "feedback");
  const note = el("span", "feedback-note");
  note.setAttribute("role", "status");
  const buttons = [
    ["up", "helpful"],
    ["down", "notHelpful"],
  ].map(([rating, labelKey]) => {
    const button = el("button", `thumb thumb-${rating}`);
    button.append(thumbIcon());
    button.type = "button";
    button.dataset.i18nLabel = labelKey;
    button.setAttribute("aria-label", strings()[labelKey]);
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => sendFeedback(messageId, rating, button, buttons, note));
    return button;
  });
  footer.append(...buttons, note);
  return footer;
}

// A second rating of the same answer replaces the first, so both thumbs stay usable.
async function sendFeedback(messageId, rating, button, buttons, note) {
  for (const b of buttons) b.disabled = true;
  let key = "feedbackRecorded";
  try {
    await postJson("/v1/chat/feedback", { session_id: state.sessionId, message_id: messageId, rating }, { token: state.token });
    for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
  } catch {
    key = "feedbackFailed";
  }
  for (const b of buttons) b.disabled = false;
  note.dataset.i18n = key;
  note.textContent = strings()[key];
  note.classList.toggle("failed", key === "feedbackFailed");
}

async function escalate() {
  ui.agent.disabled = true;
  try {
    const ticket = await postJson("/v1/chat/escalate", { session_id: state.sessionId }, { token: state.token });
    const item = addNotice(format(strings().ticketCreated, { ticket: ticket.ticket_id, position: ticket.queue_position }), "ticket");
    item.dataset.ticketId = ticket.ticket_id;
  } catch {
    addNotice(strings().escalateFailed, "error");
  } finally {
    updateControls();
  }
}

// ---------------------------------------------------------------- chips, banner, controls

function renderChips(replies) {
  ui.chips.replaceChildren(
    ...replies.map((reply) => {
      const chip = el("button", "chip", reply);
      chip.type = "button";
      chip.addEventListener("click", () => send(reply));
      return chip;
    }),
  );
  updateControls();
}

function renderBanner(text) {
  ui.banner.hidden = !text;
  ui.banner.textContent = text || "";
}

function updateControls() {
  const ready = state.socketState === "open" && state.sessionId !== null && state.turn === null;
  ui.send.disabled = !ready;
  for (const chip of ui.chips.querySelectorAll(".chip")) chip.disabled = !ready;
  ui.agent.disabled = state.sessionId === null;
}

function send(message) {
  const text = message.trim();
  if (!text) {
    addNotice(strings().errors.empty, "error");
    return;
  }
  // Our own request id ties every frame of the answer to this bubble, from the first one.
  const requestId = newRequestId();
  if (state.turn || !socket.send({ type: "message", message: text, request_id: requestId })) return;
  startTurn(text, requestId);
  ui.input.value = "";
}

// ---------------------------------------------------------------- session and sign-in

function tokenUser(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).sub || null;
  } catch {
    return null;
  }
}

function renderSignin() {
  const user = state.token && tokenUser(state.token);
  ui.signout.hidden = !state.token;
  if (!ui.signinState.dataset.override) {
    ui.signinState.textContent = user ? format(strings().signedInAs, { user }) : strings().signedOut;
  }
}

/** Keep (or drop) the token; `notice` replaces the "signed in as" line until the next change. */
function storeToken(token, notice = null) {
  state.token = token;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  if (notice) {
    ui.signinState.dataset.override = "1";
    ui.signinState.textContent = notice;
  } else {
    delete ui.signinState.dataset.override;
  }
  renderSignin();
}

function setToken(token, notice = null) {
  storeToken(token, notice);
  // A session belongs to whoever started it, so a new identity needs a new conversation.
  restart();
}

async function startSession() {
  for (;;) {
    try {
      return await postJson("/v1/chat/init", { language: state.lang }, { token: state.token });
    } catch (err) {
      if (err instanceof ApiError && err.code === "invalid_token" && state.token) {
        storeToken(null, strings().signinRejected);
        continue;
      }
      if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429) throw err;
      renderBanner(strings().unavailable);
      await new Promise((resolve) => setTimeout(resolve, INIT_RETRY_MS));
    }
  }
}

async function restart() {
  // Signing in twice quickly starts two restarts; only the latest may take the page.
  const generation = ++state.generation;
  socket.stop();
  state.socketState = "connecting";
  state.sessionId = null;
  state.turn = null;
  ui.messages.replaceChildren();
  renderStatus();
  updateControls();
  let init;
  try {
    init = await startSession();
  } catch (err) {
    if (generation === state.generation) addNotice(errorText(err.code), "error");
    return;
  }
  if (generation !== state.generation) return;
  state.sessionId = init.session_id;
  addMessage("assistant", init.greeting).item.classList.add("greeting");
  renderBanner(init.banner);
  renderChips(init.quick_replies || []);
  socket.start();
}

// ---------------------------------------------------------------- wiring

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send(ui.input.value);
});
ui.agent.addEventListener("click", escalate);
ui.langToggle.addEventListener("click", () => {
  state.lang = state.lang === "ja" ? "en" : "ja";
  sessionStorage.setItem(LANG_KEY, state.lang);
  applyStrings();
});
ui.signinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = ui.tokenInput.value.trim();
  ui.tokenInput.value = "";
  if (token) setToken(token);
});
ui.signout.addEventListener("click", () => setToken(null));

applyStrings();
restart();
