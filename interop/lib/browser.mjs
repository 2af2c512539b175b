// A very small "browser" for driving the IdP's sign-in screens over HTTP: a cookie jar, redirects followed by
// hand (so that the redirect back to the relying party can be captured without serving it), and HTML forms
// read with regular expressions. The IdP's pages are server-rendered and predictable; a real HTML parser
// would be a second runtime dependency for no gain here.

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_HOPS = 20;
const REQUEST_TIMEOUT_MS = 15000;

/** Thrown when a page is not what the flow expects; carries what was seen, for the report. */
export class BrowserError extends Error {
  constructor(message, details = {}) {
    super(message);
    this.name = 'BrowserError';
    this.details = details;
  }
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'", '#34': '"', '#x27': "'" };

export function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
    const lower = name.toLowerCase();
    if (lower in ENTITIES) return ENTITIES[lower];
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return whole;
  });
}

function attributes(tag) {
  const attrs = {};
  const attribute = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  for (const match of tag.matchAll(attribute)) {
    const name = match[1].toLowerCase();
    const value = match[3] ?? match[4] ?? match[5] ?? '';
    if (!(name in attrs)) attrs[name] = decodeEntities(value);
  }
  return attrs;
}

/** Every form of the page: its method, absolute action, hidden fields, field names and submit buttons. */
export function formsOf(html, pageUrl) {
  const forms = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = attributes(match[1]);
    const body = match[2];
    const hidden = {};
    const names = new Set();
    for (const input of body.matchAll(/<(input|textarea|select)\b([^>]*)>/gi)) {
      const field = attributes(input[2]);
      if (!field.name) continue;
      names.add(field.name);
      if ((field.type || '').toLowerCase() === 'hidden') hidden[field.name] = field.value ?? '';
    }
    const buttons = [];
    for (const button of body.matchAll(/<button\b([^>]*)>/gi)) {
      const field = attributes(button[1]);
      if (field.name) buttons.push({ name: field.name, value: field.value ?? '' });
    }
    forms.push({
      method: (attrs.method || 'get').toLowerCase(),
      action: new URL(attrs.action || pageUrl, pageUrl).href,
      hidden,
      names,
      buttons,
    });
  }
  return forms;
}

/** The text of the page's title and first alert, to say what page an unexpected answer was. */
export function describePage(html) {
  const title = /<title>([\s\S]*?)<\/title>/i.exec(html)?.[1]?.trim();
  const h1 = /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(html)?.[1]?.replace(/<[^>]+>/g, '').trim();
  const alert = /class="[^"]*alert[^"]*"[^>]*>([\s\S]*?)<\/(?:div|p)>/i.exec(html)?.[1]
    ?.replace(/<[^>]+>/g, '').trim();
  return {
    title: title ? decodeEntities(title) : undefined,
    h1: h1 ? decodeEntities(h1) : undefined,
    alert: alert ? decodeEntities(alert) : undefined,
  };
}

class CookieJar {
  #cookies = new Map(); // host -> Map(name -> value)

  store(url, response) {
    const host = new URL(url).host;
    const jar = this.#cookies.get(host) ?? new Map();
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((attr) => {
        const [key, val = ''] = attr.split('=').map((s) => s.trim());
        if (key.toLowerCase() === 'max-age') return Number(val) <= 0;
        if (key.toLowerCase() === 'expires') return Date.parse(val) <= Date.now();
        return false;
      });
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    this.#cookies.set(host, jar);
  }

  header(url) {
    const jar = this.#cookies.get(new URL(url).host);
    if (!jar || jar.size === 0) return undefined;
    return [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** True when ``url`` is ``target`` with a query: the redirect back to the client, which is not followed. */
function arrivesAt(url, target) {
  const a = new URL(url);
  const b = new URL(target);
  return a.origin === b.origin && a.pathname === b.pathname;
}

export class Browser {
  constructor() {
    this.jar = new CookieJar();
    /** Paths visited, in order, for the report (no query strings: they may carry codes). */
    this.visited = [];
  }

  async request(method, url, form) {
    const headers = { 'user-agent': 'portail-elections-interop (openid-client)', accept: 'text/html' };
    const cookie = this.jar.header(url);
    if (cookie) headers.cookie = cookie;
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const response = await fetch(url, {
      method,
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    this.jar.store(url, response);
    this.visited.push(`${method} ${new URL(url).pathname} ${response.status}`);
    return response;
  }

  /**
   * Send one request and follow redirects until a page that is not a redirect, or until a redirect to
   * ``stopAt`` (one URL or a list), which is returned unfollowed as ``{ arrived: URL }``.
   */
  async go(method, url, form, stopAt = []) {
    const stops = Array.isArray(stopAt) ? stopAt : [stopAt];
    let response = await this.request(method, url, form);
    let current = url;
    for (let hop = 0; hop < MAX_HOPS; hop += 1) {
      if (!REDIRECT_STATUSES.has(response.status)) {
        return { url: current, status: response.status, html: await response.text() };
      }
      const location = response.headers.get('location');
      if (!location) throw new BrowserError(`redirect without Location from ${current}`);
      const next = new URL(location, current).href;
      await response.body?.cancel();
      const stop = stops.find((target) => arrivesAt(next, target));
      if (stop) return { url: current, status: response.status, arrived: new URL(next) };
      // 307/308 keep the method and body; 301/302/303 become a GET, as browsers do.
      const keep = response.status === 307 || response.status === 308;
      current = next;
      response = await this.request(keep ? method : 'GET', current, keep ? form : undefined);
    }
    throw new BrowserError(`more than ${MAX_HOPS} redirects`, { visited: this.visited });
  }

  /**
   * Submit the page's form chosen by ``which`` (a field or button name, or a predicate on the form), with
   * ``values`` over its hidden fields.
   */
  async submit(page, which, values, stopAt) {
    const matches = typeof which === 'function'
      ? which
      : (f) => f.names.has(which) || f.buttons.some((b) => b.name === which);
    const form = formsOf(page.html, page.url).find(matches);
    if (!form) {
      throw new BrowserError(`no such form on ${new URL(page.url).pathname}`, describePage(page.html));
    }
    if (form.method !== 'post') {
      throw new BrowserError(`the form on ${new URL(page.url).pathname} is not a POST form`);
    }
    return this.go('POST', form.action, { ...form.hidden, ...values }, stopAt);
  }
}
