// Drives the admin UI in headless Chromium as an operator would: signs in,
// creates an asset, a wallet address and a peer, deposits and withdraws
// liquidity and sees the balance change, pays a second wallet address's
// incoming payment from the first and funds the payment until it shows
// COMPLETED, finds the webhook event the
// withdrawal caused and the asset's history, then checks every page's markup (labels, one h1,
// landmarks), keyboard navigation, and the layout at a phone's width.
// Each step prints one JSON line; a screenshot of each page goes to
// ARTIFACTS. Any failure exits 1 with what was found.
//
// Environment: UI_URL (the admin UI), TENANT_ID and API_SECRET (the
// operator's), ARTIFACTS (a directory for screenshots), CHROMIUM (the
// browser, /usr/bin/chromium unless set).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { chromium } from 'playwright-core'

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

const env = process.env
for (const name of ['UI_URL', 'TENANT_ID', 'API_SECRET', 'ARTIFACTS']) {
  if (!env[name]) throw new Error(`${name} is not set`)
}
const base = env.UI_URL.replace(/\/$/, '')
fs.mkdirSync(env.ARTIFACTS, { recursive: true })

const step = (name, detail = {}) => console.log(JSON.stringify({ step: name, ...detail }))
function check (ok, what) {
  if (!ok) throw new Error(what)
}

// The machine's network is closed: the browser is told to reach nothing
// but the UI, and a fresh profile keeps runs apart.
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rafiki-adminui-chromium-'))
const context = await chromium.launchPersistentContext(profile, {
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 }
})
const page = context.pages()[0] || await context.newPage()
page.setDefaultTimeout(15000)

// A screenshot is a record of the page, not a check of it: rendering a full
// page took longer than the 15 s a step may take on a machine busy with
// other test binaries, so it has a minute.
async function shot (name) {
  await page.screenshot({ path: path.join(env.ARTIFACTS, `${name}.png`), fullPage: true, timeout: 60000 })
}

async function text (selector) {
  return (await page.locator(selector).first().innerText()).trim()
}

// audit checks what every page must have: one h1, the main landmark, a
// named navigation when signed in, a label for every field, and no
// horizontal scrolling of the page itself at the current width.
async function audit (where) {
  const found = await page.evaluate(() => {
    const fields = [...document.querySelectorAll('input, select, textarea')].filter(e => e.type !== 'hidden')
    return {
      h1: document.querySelectorAll('h1').length,
      main: document.querySelectorAll('main').length,
      unnamedNav: [...document.querySelectorAll('nav')].filter(n => !n.getAttribute('aria-label')).length,
      unlabelled: fields.filter(f => f.labels.length === 0 && !f.getAttribute('aria-label')).map(f => f.name || f.id),
      overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      lang: document.documentElement.lang
    }
  })
  check(found.h1 === 1, `${where}: ${found.h1} h1 elements`)
  check(found.main === 1, `${where}: ${found.main} main landmarks`)
  check(found.unnamedNav === 0, `${where}: navigation without a name`)
  check(found.unlabelled.length === 0, `${where}: fields without a label: ${found.unlabelled}`)
  check(found.overflow <= 0, `${where}: the page scrolls sideways by ${found.overflow}px`)
  check(found.lang === 'en', `${where}: no language`)
  // axe-core's WCAG 2 A and AA rules; evaluated through the DevTools
  // protocol, which the pages' Content-Security-Policy (no scripts) does
  // not stop.
  const axe = await page.evaluate(async (source) => {
    if (!window.axe) (0, eval)(source)
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
    return { passes: result.passes.length, violations: result.violations.map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`) }
  }, axeSource)
  check(axe.passes > 0, `${where}: axe-core checked nothing`)
  check(axe.violations.length === 0, `${where}: accessibility violations:\n  ${axe.violations.join('\n  ')}`)
}

async function visit (urlPath, name) {
  await page.goto(base + urlPath)
  await audit(urlPath)
  await shot(name)
}

async function flash () {
  return text('p.flash')
}

try {
  await page.goto(base + '/')
  check(page.url().startsWith(base + '/login'), `not sent to sign in: ${page.url()}`)
  await audit('/login')
  await shot('01-login')

  // A wrong secret is refused with the API's reason.
  await page.getByLabel('Tenant id').fill(env.TENANT_ID)
  await page.getByLabel('API secret').fill('wrong')
  await page.getByRole('button', { name: 'Sign in' }).click()
  check((await text('[role=alert]')).includes('refused'), 'a wrong secret was not refused')
  await page.getByLabel('API secret').fill(env.API_SECRET)
  // Keyboard only: Enter in the secret field submits the form.
  await page.getByLabel('API secret').press('Enter')
  await page.waitForURL(base + '/')
  check(await text('h1') === 'Overview', 'not signed in')
  await audit('/')
  await shot('02-overview')
  step('signed in')

  // Keyboard navigation: the first Tab reaches the skip link, which moves
  // focus to the page's content.
  await page.keyboard.press('Tab')
  check(await page.evaluate(() => document.activeElement.textContent.trim()) === 'Skip to content', 'the first Tab does not reach the skip link')
  await page.keyboard.press('Enter')
  check(await page.evaluate(() => document.activeElement.id) === 'main', 'the skip link does not move focus to the content')
  step('keyboard')

  await visit('/assets/new', '03-asset-new')
  await page.getByLabel('Code').fill('USD')
  await page.getByLabel('Scale', { exact: true }).fill('2')
  await page.getByLabel('Liquidity threshold (optional)').fill('10')
  await page.getByRole('button', { name: 'Create asset' }).click()
  check(await flash() === 'Asset created.', 'asset not created')
  check(await text('#liquidity') === '0.00 USD', `new asset's liquidity: ${await text('#liquidity')}`)
  const assetURL = page.url().replace(/\?.*/, '')
  await audit('asset')
  await shot('04-asset')
  step('asset created', { url: assetURL })

  await page.locator('#deposit-amount').fill('100.25')
  await page.getByRole('button', { name: 'Deposit' }).click()
  check(await flash() === 'Liquidity deposited.', 'not deposited')
  check(await text('#liquidity') === '100.25 USD', `after the deposit: ${await text('#liquidity')}`)
  await shot('05-asset-deposited')
  step('deposited', { liquidity: await text('#liquidity') })

  // More decimals than the scale: refused before the API, with a reason.
  await page.locator('#withdraw-amount').fill('1.001')
  await page.getByRole('button', { name: 'Withdraw', exact: true }).click()
  check((await text('[role=alert]')).includes('decimal places'), 'a third decimal place was not refused')
  check(await text('#liquidity') === '100.25 USD', 'a refused withdrawal changed the balance')
  await shot('06-asset-error')

  // Below the liquidity threshold: the asset.liquidity_low webhook event.
  await page.locator('#withdraw-amount').fill('95')
  await page.getByRole('button', { name: 'Withdraw', exact: true }).click()
  check(await flash() === 'Liquidity withdrawn.', 'not withdrawn')
  check(await text('#liquidity') === '5.25 USD', `after the withdrawal: ${await text('#liquidity')}`)
  step('withdrawn', { liquidity: await text('#liquidity') })

  await visit('/wallet-addresses/new', '07-wallet-address-new')
  await page.getByLabel('Address').fill('alice')
  await page.getByLabel('Public name (optional)').fill('Alice')
  await page.getByRole('button', { name: 'Create wallet address' }).click()
  check(await flash() === 'Wallet address created.', 'wallet address not created')
  await audit('wallet address')
  await shot('08-wallet-address')
  const aliceURL = page.url().replace(/\?.*/, '')
  step('wallet address created', { url: aliceURL })

  // A second wallet address asks for a payment; the first pays it (one
  // asset, so no asset liquidity is needed), funds it and sees it sent.
  await page.goto(base + '/wallet-addresses/new')
  await page.getByLabel('Address').fill('bob')
  await page.getByRole('button', { name: 'Create wallet address' }).click()
  check(await flash() === 'Wallet address created.', 'second wallet address not created')
  await page.getByLabel('Incoming amount (USD, optional)').fill('3')
  await page.getByRole('button', { name: 'Create incoming payment' }).click()
  check(await flash() === 'Incoming payment created.', 'incoming payment not created')
  const receiver = await text('dt:text-is("URL") + dd')
  check(receiver.includes('/incoming-payments/'), `incoming payment URL: ${receiver}`)
  await audit('incoming payment')
  await shot('20-incoming-payment')
  step('incoming payment created', { receiver })

  await page.goto(aliceURL)
  await page.getByLabel('Receiver (incoming payment URL)').fill(receiver)
  await page.getByLabel('Debit amount (USD, optional)').fill('1.5')
  await page.getByRole('button', { name: 'Send payment' }).click()
  check(await flash() === 'Outgoing payment created: deposit its liquidity to send it.', 'outgoing payment not created')
  check(await text('#state') === 'FUNDING', `new payment's state: ${await text('#state')}`)
  check(await text('#debit') === '1.50 USD', `debit amount: ${await text('#debit')}`)
  const paymentURL = page.url().replace(/\?.*/, '')
  await audit('outgoing payment')
  await shot('21-outgoing-payment')
  step('outgoing payment created', { url: paymentURL })

  await page.getByRole('button', { name: 'Deposit liquidity' }).click()
  check(await flash() === 'Liquidity deposited: the payment is being sent.', 'payment not funded')
  let state = await text('#state')
  for (let i = 0; i < 60 && state !== 'COMPLETED'; i++) {
    await page.waitForTimeout(250)
    await page.goto(paymentURL)
    state = await text('#state')
  }
  check(state === 'COMPLETED', `the payment did not complete: ${state}`)
  check(await text('#sent') === '1.50 USD', `sent: ${await text('#sent')}`)
  await audit('completed outgoing payment')
  await shot('22-outgoing-payment-completed')
  step('outgoing payment completed', { sent: await text('#sent') })

  await visit('/peers/new', '09-peer-new')
  await page.getByLabel('Name (optional)').fill('Other bank')
  await page.getByLabel('ILP address', { exact: true }).fill('test.other-bank')
  await page.getByLabel('Outgoing endpoint (its ILP-over-HTTP URL)').fill('http://other-bank.test/ilp')
  await page.getByLabel('Outgoing token (sent to it)').fill('secret-token')
  await page.getByLabel('Initial liquidity (optional)').fill('12.5')
  await page.getByRole('button', { name: 'Create peer' }).click()
  check(await flash() === 'Peer created.', 'peer not created')
  check(await text('#liquidity') === '12.50 USD', `peer liquidity: ${await text('#liquidity')}`)
  await audit('peer')
  await shot('10-peer')
  step('peer created', { url: page.url() })

  let found = false
  for (let i = 0; i < 50 && !found; i++) {
    await page.goto(base + '/webhook-events?type=asset.liquidity_low')
    found = await page.locator('.events summary').count() > 0
    if (!found) await page.waitForTimeout(200)
  }
  check(found, 'no asset.liquidity_low webhook event')
  // The event's JSON opens from the keyboard.
  await page.locator('.events summary').first().focus()
  await page.keyboard.press('Enter')
  const data = JSON.parse(await text('.events pre'))
  check(data.asset?.code === 'USD' && data.balance === '525', `webhook data: ${JSON.stringify(data)}`)
  await audit('/webhook-events')
  await shot('11-webhook-events')
  step('webhook event', { data })

  // The asset's history tab: its events in order, and its state after
  // the first one (created, nothing deposited yet).
  await page.goto(assetURL)
  await page.getByRole('link', { name: 'History' }).click()
  const types = await page.locator('.history .type').allInnerTexts()
  check(types[0] === 'asset.created' && types.includes('liquidity.deposited') && types.includes('liquidity.low'), `history: ${types}`)
  await page.getByRole('link', { name: 'State after this event' }).first().click()
  const assetState = JSON.parse(await text('#state'))
  check(assetState.Code === 'USD' && assetState.LiquidityThreshold === 1000, `state after the first event: ${JSON.stringify(assetState)}`)
  await audit('history')
  await shot('19-history')
  step('history', { events: types.length })

  await visit('/assets', '12-assets')
  check((await page.locator('table').innerText()).includes('5.25'), 'the asset list does not show the balance')
  await visit('/wallet-addresses', '13-wallet-addresses')
  await visit('/peers', '14-peers')
  await visit('/payments', '15-payments')
  await visit('/tenants', '16-tenants')
  await visit('/tenants/new', '17-tenant-new')
  await visit('/tenants/' + env.TENANT_ID, '18-tenant')

  // A phone's width: every page fits, tables scroll inside their region.
  await page.setViewportSize({ width: 375, height: 740 })
  for (const [urlPath, name] of [['/', 'phone-01-overview'], ['/assets', 'phone-02-assets'], [new URL(assetURL).pathname, 'phone-03-asset'],
    ['/peers', 'phone-04-peers'], ['/wallet-addresses', 'phone-05-wallet-addresses'], ['/payments', 'phone-06-payments'],
    ['/webhook-events', 'phone-07-webhook-events'], ['/tenants', 'phone-08-tenants'], ['/peers/new', 'phone-09-peer-new'],
    [new URL(assetURL).pathname.replace('/assets/', '/history/'), 'phone-11-history'],
    [new URL(aliceURL).pathname, 'phone-12-wallet-address'], [new URL(paymentURL).pathname, 'phone-13-outgoing-payment']]) {
    await visit(urlPath, name)
  }
  step('phone width')

  await page.getByRole('button', { name: 'Sign out' }).click()
  check(page.url().startsWith(base + '/login'), 'not signed out')
  await visit('/login', 'phone-10-login')
  step('signed out')
} catch (err) {
  await shot('failure').catch(() => {})
  console.error(`failed at ${page.url()}: ${err.stack || err}`)
  await context.close()
  fs.rmSync(profile, { recursive: true, force: true })
  process.exit(1)
}
await context.close()
fs.rmSync(profile, { recursive: true, force: true })
