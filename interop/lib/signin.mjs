// Drives the IdP's interaction screens (identifier + CAPTCHA, password, consent) the way a voter's browser
// would, until the IdP redirects back to the client. Each screen is recognised by its form fields, not by its
// URL, so the order of screens is what the IdP decides.

import { BrowserError, describePage } from './browser.mjs';

const MAX_SCREENS = 8;

/**
 * From the authorization URL to the redirect back to ``redirectUri``. Returns the callback URL and what was
 * seen on the way (screens, in order).
 */
export async function signIn(browser, authorizationUrl, redirectUri, credentials) {
  const screens = [];
  let page = await browser.go('GET', authorizationUrl, undefined, redirectUri);
  for (let i = 0; i < MAX_SCREENS && !page.arrived; i += 1) {
    const html = page.html;
    if (page.status >= 400 && !/name="password"|name="identifier"/.test(html)) {
      const where = new URL(page.url).pathname;
      throw new BrowserError(`the IdP answered ${page.status} on ${where}`, describePage(html));
    }
    if (/name="identifier"/.test(html) && /name="captcha"/.test(html)) {
      if (screens.includes('identifier')) {
        throw new BrowserError('the identifier screen came back', describePage(html));
      }
      screens.push('identifier');
      page = await browser.submit(page, 'identifier', {
        identifier: credentials.identifier,
        captcha: credentials.captcha,
      }, redirectUri);
    } else if (/name="password"/.test(html)) {
      if (screens.includes('password')) {
        throw new BrowserError('the password was refused', describePage(html));
      }
      screens.push('password');
      page = await browser.submit(page, 'password', { password: credentials.password }, redirectUri);
    } else if (/name="decision"/.test(html)) {
      screens.push('consent');
      page = await browser.submit(page, 'decision', { decision: 'allow' }, redirectUri);
    } else {
      const where = `${new URL(page.url).pathname} (${page.status})`;
      throw new BrowserError(`unexpected page ${where}`, describePage(html));
    }
  }
  if (!page.arrived) throw new BrowserError('never redirected back to the client', { screens });
  return { callback: page.arrived, screens };
}
