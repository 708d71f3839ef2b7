// Small inline SVG charts of the last hour: one line, scaled to its own highest value.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 120;
const HEIGHT = 28;
const HOUR_MS = 3600 * 1000;

/**
 * Draws `samples` (objects with `at` and the numeric `field`) over the last hour into `svg`,
 * replacing what it showed. A `threshold` above zero is drawn as a dashed line when in range.
 */
export function draw(svg, samples, field, threshold = 0) {
  svg.replaceChildren();
  const now = Date.now();
  const points = samples
    .map((s) => [Date.parse(s.at), Number(s[field]) || 0])
    .filter(([at]) => Number.isFinite(at) && now - at <= HOUR_MS);
  const highest = Math.max(1e-9, threshold, ...points.map(([, v]) => v));
  // The last hour, or since the first sample when the server has run less long.
  const start = points.length ? Math.max(now - HOUR_MS, Math.min(points[0][0], now - 60_000)) : now - HOUR_MS;
  const x = (at) => (WIDTH * (at - start)) / (now - start);
  const y = (v) => HEIGHT - 1 - ((HEIGHT - 2) * v) / highest;

  if (threshold > 0 && points.some(([, v]) => v > threshold / 4)) {
    const line = document.createElementNS(SVG, "line");
    line.setAttribute("class", "threshold");
    line.setAttribute("x1", "0");
    line.setAttribute("x2", String(WIDTH));
    line.setAttribute("y1", y(threshold).toFixed(1));
    line.setAttribute("y2", y(threshold).toFixed(1));
    svg.append(line);
  }
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points.map(([at, v]) => `${x(at).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
  svg.append(line);

  const title = document.createElementNS(SVG, "title");
  const last = points.length ? points[points.length - 1][1] : 0;
  title.textContent = `now ${format(last)}, highest ${format(Math.max(0, ...points.map(([, v]) => v)))}`;
  svg.append(title);
}

/** A new, empty chart element. */
export function chart(kind) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", `chart ${kind}`);
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  return svg;
}

function format(value) {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}
