/**
 * Building the page's DOM. Text from the report (scraped URLs, error messages, paths) only ever
 * becomes text nodes or attribute values, never markup; links are made only for http(s) URLs.
 */
import { formatCount } from '../../format.js';

export type Child = Node | string | number | null | undefined | false;

export function byId<T extends Element = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`status page: #${id} is missing`);
  return node as unknown as T;
}

// The SVG namespace, taken from the page's own <svg> so that no URL appears in the document.
const SVG_NS = document.querySelector('svg')?.namespaceURI ?? '';

function append(node: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined) node.setAttribute(name, String(value));
  append(node, children);
  return node;
}

export function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: Child[]): SVGElement {
  const node = document.createElementNS(SVG_NS, tag) as SVGElement;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  append(node, children);
  return node;
}

/** A link for http(s) URLs, plain text for anything else (javascript:, data:, garbage). */
export function urlNode(url: string): HTMLElement {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:')) {
    return h('a', { class: 'url', href: parsed.href, title: url, rel: 'noopener noreferrer nofollow', target: '_blank' }, url);
  }
  return h('span', { class: 'url', title: url }, url);
}

/** The table body's rows, or one row saying `empty` across its `columns`. */
export function fillRows(tbody: HTMLElement, rows: HTMLElement[], columns: number, empty: string): void {
  tbody.replaceChildren(...(rows.length > 0 ? rows : [h('tr', { class: 'empty' }, h('td', { colspan: columns }, empty))]));
}

/** A cell holding a count as its plain integer (dimmed when zero). */
export function num(value: number, hook: Record<string, string>, extraClass = ''): HTMLElement {
  const cls = ['num', value === 0 ? 'zero' : '', extraClass].filter(Boolean).join(' ');
  return h('td', { class: cls, ...hook }, formatCount(value));
}
