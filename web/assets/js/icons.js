// Inline SVG icons (24×24, stroke or fill), built with the DOM so the CSP needs no inline markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Path data per icon; `fill` icons are solid, the rest are 2px strokes. */
const ICONS = {
  play: { fill: true, d: ['M8 5.5v13a1 1 0 0 0 1.5.86l10.5-6.5a1 1 0 0 0 0-1.72L9.5 4.64A1 1 0 0 0 8 5.5z'] },
  pause: { fill: true, d: ['M7 5h3.5v14H7z', 'M13.5 5H17v14h-3.5z'] },
  next: { fill: true, d: ['M5 6.2v11.6a.8.8 0 0 0 1.23.67L15 12.67a.8.8 0 0 0 0-1.34L6.23 5.53A.8.8 0 0 0 5 6.2z', 'M16.5 5H19v14h-2.5z'] },
  previous: { fill: true, d: ['M19 6.2v11.6a.8.8 0 0 1-1.23.67L9 12.67a.8.8 0 0 1 0-1.34l8.77-5.8A.8.8 0 0 1 19 6.2z', 'M5 5h2.5v14H5z'] },
  note: { d: ['M9 18V5l11-2v13', 'M9 18a3 3 0 1 1-6 0 3 3 0 0 1 6 0z', 'M20 16a3 3 0 1 1-6 0 3 3 0 0 1 6 0z'] },
  copy: { d: ['M9 9h10v10H9z', 'M5 15V5h10'] },
  check: { d: ['M5 12.5l4.5 4.5L19 7.5'] },
  refresh: { d: ['M20 11a8 8 0 0 0-14.8-4.2L4 8', 'M4 4v4h4', 'M4 13a8 8 0 0 0 14.8 4.2L20 16', 'M20 20v-4h-4'] },
  speaker: { d: ['M7 3h10a1 1 0 0 1 1 1v16a1 1 0 0 1-1 1H7a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1z', 'M12 17a3 3 0 1 0 0-6 3 3 0 0 0 0 6z', 'M12 7h.01'] },
  computer: { d: ['M3 5h18v11H3z', 'M8 20h8', 'M12 16v4'] },
  phone: { d: ['M8 2.5h8a1 1 0 0 1 1 1v17a1 1 0 0 1-1 1H8a1 1 0 0 1-1-1v-17a1 1 0 0 1 1-1z', 'M11 18.5h2'] },
  tv: { d: ['M3 6h18v12H3z', 'M8 3l4 3 4-3'] },
  close: { d: ['M6 6l12 12', 'M18 6L6 18'] },
  chevron: { d: ['M9 6l6 6-6 6'] },
  warning: { d: ['M12 3l10 18H2z', 'M12 10v4', 'M12 17.5h.01'] },
  users: { d: ['M16 20v-1.5a4 4 0 0 0-4-4H7a4 4 0 0 0-4 4V20', 'M9.5 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z', 'M21 20v-1.5a4 4 0 0 0-3-3.87', 'M15.5 4.13a3.5 3.5 0 0 1 0 6.74'] },
  lock: { d: ['M5 11h14v10H5z', 'M8 11V7a4 4 0 0 1 8 0v4'] },
  flask: { d: ['M9 3h6', 'M10 3v6L4.5 19a1.3 1.3 0 0 0 1.2 2h12.6a1.3 1.3 0 0 0 1.2-2L14 9V3'] },
  link: { d: ['M10 14a4.5 4.5 0 0 0 6.4 0l3-3a4.5 4.5 0 0 0-6.4-6.4l-1 1', 'M14 10a4.5 4.5 0 0 0-6.4 0l-3 3a4.5 4.5 0 0 0 6.4 6.4l1-1'] },
  repeat: { d: ['M17 2l4 4-4 4', 'M3 11V9a3 3 0 0 1 3-3h15', 'M7 22l-4-4 4-4', 'M21 13v2a3 3 0 0 1-3 3H3'] },
  shuffle: { d: ['M16 3h5v5', 'M4 20L21 3', 'M21 16v5h-5', 'M15 15l6 6', 'M4 4l5 5'] },
  volume: { d: ['M11 5L6 9H2v6h4l5 4z', 'M15.5 8.5a5 5 0 0 1 0 7', 'M19 5a10 10 0 0 1 0 14'] },
  qr: { d: ['M4 4h6v6H4z', 'M14 4h6v6h-6z', 'M4 14h6v6H4z', 'M14 14h2v2h-2z', 'M18 14h2', 'M14 18h2v2', 'M18 18h2v2h-2z'] },
  plug: { d: ['M9 2v6', 'M15 2v6', 'M6 8h12v3a6 6 0 0 1-12 0z', 'M12 17v5'] },
  search: { d: ['M10.5 18a7.5 7.5 0 1 0 0-15 7.5 7.5 0 0 0 0 15z', 'M16 16l5 5'] },
  'vote-up': { d: ['M12 19V5', 'M5.5 11.5L12 5l6.5 6.5'] },
  'vote-down': { d: ['M12 5v14', 'M5.5 12.5L12 19l6.5-6.5'] },
  trash: { d: ['M4 7h16', 'M10 11v6', 'M14 11v6', 'M6 7l1 13h10l1-13', 'M9 7V4h6v3'] },
  ban: { d: ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M5.6 5.6l12.8 12.8'] },
  plus: { d: ['M12 5v14', 'M5 12h14'] },
  eye: { d: ['M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z', 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z'] },
};

/**
 * An icon element, hidden from assistive technology (the control around it carries the label).
 * @param {keyof typeof ICONS} name
 * @param {string} [className]
 */
export function icon(name, className) {
  const spec = ICONS[name] ?? ICONS.note;
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  if (className) svg.setAttribute('class', className);
  if (spec.fill) {
    svg.setAttribute('fill', 'currentColor');
  } else {
    svg.setAttribute('fill', 'none');
    svg.setAttribute('stroke', 'currentColor');
    svg.setAttribute('stroke-width', '2');
    svg.setAttribute('stroke-linecap', 'round');
    svg.setAttribute('stroke-linejoin', 'round');
  }
  for (const d of spec.d) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/** The icon that fits a Spotify device type ("Computer", "Smartphone", "Speaker", …). */
export function deviceIcon(type) {
  const t = String(type ?? '').toLowerCase();
  if (t.includes('phone') || t.includes('tablet')) return icon('phone', 'device-icon');
  if (t.includes('computer')) return icon('computer', 'device-icon');
  if (t.includes('tv') || t.includes('cast')) return icon('tv', 'device-icon');
  return icon('speaker', 'device-icon');
}
