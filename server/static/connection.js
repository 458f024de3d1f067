// One WebSocket to the chat service that comes back by itself after a drop, with jittered
// exponential back-off so a restarting server is not stampeded by every open tab.

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10000;

export class ChatSocket {
  /**
   * @param {() => string} urlFor builds the URL at each attempt (session and token may change).
   * @param {(frame: object) => void} onFrame gets every parsed server frame.
   * @param {(state: "connecting"|"open"|"reconnecting") => void} onState
   */
  constructor(urlFor, onFrame, onState) {
    this.urlFor = urlFor;
    this.onFrame = onFrame;
    this.onState = onState;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  start() {
    this.stopped = false;
    this.attempt = 0;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  open() {
    this.onState(this.attempt === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(this.urlFor());
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.attempt = 0;
      this.onState("open");
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws || typeof event.data !== "string") return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return; // not a protocol frame; nothing a shopper could act on
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", () => {
      if (ws !== this.ws || this.stopped) return;
      this.ws = null;
      this.onState("reconnecting");
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
      this.attempt += 1;
      this.timer = setTimeout(() => this.open(), delay * (0.5 + Math.random() / 2));
    });
  }
}
