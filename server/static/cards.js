// Product cards. Everything from the service goes in as text nodes, never as markup.

import { el, svgEl } from "./dom.js";
import { format } from "./strings.js";

/** USD with cents, JPY in whole yen: the way each store edition is priced. */
export function formatPrice(amount, currency) {
  const digits = currency === "JPY" ? 0 : 2;
  // en-US keeps the half-width ¥ for yen; ja-JP would print the full-width ￥.
  return new Intl.NumberFormat("en-US", {
    style: "currency",
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(amount);
}

function hashOf(text) {
  let hash = 2166136261;
  for (const ch of text) {
    hash ^= ch.codePointAt(0);
    hash = Math.imul(hash, 16777619);
  }
  return hash >>> 0;
}

/** A cover drawn from the title: its colours come from a hash, its glyph is the first letter. */
export function coverPlaceholder(title, volume) {
  const hash = hashOf(title);
  const hue = hash % 360;
  const accent = (hue + 40 + (hash >> 9) % 80) % 360;
  const svg = svgEl("svg", { viewBox: "0 0 60 90", class: "cover", "aria-hidden": "true", focusable: "false" });
  svg.append(
    svgEl("rect", { width: 60, height: 90, rx: 4, fill: `hsl(${hue} 55% 38%)` }),
    svgEl("path", { d: `M0 ${60 + (hash % 14)} L60 ${48 + ((hash >> 5) % 20)} L60 90 L0 90 Z`, fill: `hsl(${accent} 60% 55%)`, opacity: 0.85 }),
    svgEl("rect", { x: 5, y: 5, width: 50, height: 80, rx: 2, fill: "none", stroke: "rgba(255,255,255,.35)" }),
    svgEl("text", { x: 30, y: 42, "text-anchor": "middle", "font-size": 26, "font-weight": 700, fill: "#fff" },
      Array.from(title.trim())[0] || "?"),
  );
  if (volume) {
    svg.append(svgEl("text", { x: 30, y: 80, "text-anchor": "middle", "font-size": 11, fill: "#fff" }, String(volume)));
  }
  return svg;
}

/** Protocol v2 rates a product either as a number or as {average, count}. */
function ratingOf(product) {
  const rating = product.rating;
  if (typeof rating === "number") return { average: rating, count: null };
  if (rating && typeof rating.average === "number") return { average: rating.average, count: rating.count ?? null };
  return null;
}

function stars(rating, strings) {
  const wrap = el("span", "rating");
  const shown = rating.average.toFixed(1);
  const starsEl = el("span", "stars", "★★★★★");
  starsEl.style.setProperty("--filled", `${Math.max(0, Math.min(5, rating.average)) * 20}%`);
  starsEl.setAttribute("role", "img");
  starsEl.setAttribute("aria-label", format(strings.ratingLabel, { rating: shown }));
  wrap.append(starsEl, el("span", "rating-value", shown));
  if (rating.count) wrap.append(el("span", "rating-count", format(strings.reviewCount, { count: rating.count })));
  return wrap;
}

/**
 * One card in the answer's language (`strings` and `language` of the turn that showed it).
 * @returns {HTMLLIElement}
 */
export function productCard(product, language, strings) {
  const title = language === "ja" ? product.title_ja || product.title : product.title;
  const card = el("li", "card");
  card.dataset.asin = product.asin;
  card.append(coverPlaceholder(title, product.volume));

  const body = el("div", "card-body");
  body.append(el("h3", "card-title", title));
  const meta = [strings.edition[product.format] || product.format, ...(product.authors || []).slice(0, 2)];
  body.append(el("p", "card-meta", meta.join(" · ")));

  const priceRow = el("p", "price-row");
  priceRow.append(el("span", "price", formatPrice(product.price, product.currency)));
  if (product.list_price && product.list_price > product.price) {
    const was = el("s", "list-price", formatPrice(product.list_price, product.currency));
    priceRow.append(was);
  }
  body.append(priceRow);

  const badges = el("p", "badges");
  const stock = el("span", product.in_stock ? "badge in-stock" : "badge out-of-stock",
    product.in_stock ? strings.inStock : strings.outOfStock);
  badges.append(stock);
  const rating = ratingOf(product);
  if (rating) badges.append(stars(rating, strings));
  body.append(badges);

  card.append(body);
  return card;
}
