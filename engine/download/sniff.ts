/** What the first bytes of a body say it is. */
export type Sniffed =
  | { kind: 'image'; format: 'jpeg' | 'png' | 'gif' | 'webp' | 'avif' | 'tiff' }
  | { kind: 'unsupported'; format: string }
  | { kind: 'not_image'; what: string };

const ascii = (bytes: Uint8Array, start: number, end: number): string => String.fromCharCode(...bytes.subarray(start, end));

/**
 * Magic-byte sniffing: the Content-Type header and the URL's extension are not trusted.
 * Only the formats listing photos use are 'image'; other images are 'unsupported'.
 */
export function sniff(bytes: Uint8Array): Sniffed {
  if (bytes.length === 0) return { kind: 'not_image', what: 'empty body' };
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return { kind: 'image', format: 'jpeg' };
  if (bytes.length >= 8 && ascii(bytes, 1, 4) === 'PNG' && bytes[0] === 0x89) return { kind: 'image', format: 'png' };
  if (bytes.length >= 6 && (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a')) return { kind: 'image', format: 'gif' };
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return { kind: 'image', format: 'webp' };
  if (bytes.length >= 4 && (ascii(bytes, 0, 4) === 'II*\0' || ascii(bytes, 0, 4) === 'MM\0*')) return { kind: 'image', format: 'tiff' };
  if (bytes.length >= 12 && ascii(bytes, 4, 8) === 'ftyp') {
    const brand = ascii(bytes, 8, 12);
    if (brand === 'avif' || brand === 'avis') return { kind: 'image', format: 'avif' };
    return { kind: 'unsupported', format: brand === 'mif1' || brand === 'msf1' || brand.startsWith('hei') || brand.startsWith('hev') ? 'heif' : `ftyp:${brand.trim()}` };
  }
  if (bytes.length >= 12 && ascii(bytes, 0, 10) === '\0\0\0\x0cjP  \r\n') return { kind: 'unsupported', format: 'jp2' };
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0x4f && bytes[2] === 0xff && bytes[3] === 0x51) return { kind: 'unsupported', format: 'j2k' };
  if (bytes.length >= 2 && ascii(bytes, 0, 2) === 'BM') return { kind: 'unsupported', format: 'bmp' };
  if (ascii(bytes, 0, 5) === '%PDF-') return { kind: 'unsupported', format: 'pdf' };
  const head = ascii(bytes, 0, Math.min(bytes.length, 512)).replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return { kind: 'unsupported', format: 'svg' };
  if (head.startsWith('<!doctype html') || head.startsWith('<html') || head.startsWith('<head') || head.startsWith('<body')) {
    return { kind: 'not_image', what: 'HTML' };
  }
  if (head.startsWith('<')) return { kind: 'not_image', what: 'markup' };
  if (head.startsWith('{') || head.startsWith('[')) return { kind: 'not_image', what: 'JSON or text' };
  return { kind: 'not_image', what: 'unrecognised bytes' };
}
