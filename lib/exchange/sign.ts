/**
 * The exchange signature (HMAC-SHA256 with the department's shared secret) over the canonical
 * form the schema documents: the message element's exact text, with the text content of its
 * signature element removed. Nothing is normalised, so signer and verifier need no XML
 * canonicalisation library and agree byte for byte.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { scanElements, type ElementSpan } from './scan';

/** Where a message's signature sits inside the message element's text. */
export interface SignatureSpan {
  /** Offsets of the signature's content, relative to the message element's start. */
  contentStart: number;
  contentEnd: number;
  selfClosing: boolean;
}

/** The signature child of a message span (the schema makes it the last child), relative offsets. */
export function signatureSpanOf(message: ElementSpan): SignatureSpan | undefined {
  const last = message.children[message.children.length - 1];
  if (!last || last.localName !== 'signature') return undefined;
  return {
    contentStart: last.contentStart - message.start,
    contentEnd: last.contentEnd - message.start,
    selfClosing: last.selfClosing,
  };
}

/** The signed text of a message element: its signature's content cut out. */
export function canonicalForm(elementText: string, signature: SignatureSpan): string {
  return elementText.slice(0, signature.contentStart) + elementText.slice(signature.contentEnd);
}

/** HMAC-SHA256 of the UTF-8 bytes of `text`, in standard base64. */
export function hmacOf(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('base64');
}

/** Checks a signature value in constant time. */
export function isValidSignature(secret: string, canonical: string, value: string): boolean {
  const expected = Buffer.from(hmacOf(secret, canonical), 'utf8');
  const given = Buffer.from(value, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * Signs one message element written with an empty `<signature ...></signature>` as its last
 * child: computes the HMAC over the element and writes the value between the two tags.
 */
export function signElement(elementText: string, secret: string): string {
  const span = scanElements(elementText, { maxDepth: 64, keepDepth: 2 });
  if (span.start !== 0 || span.end !== elementText.length) {
    throw new Error(
      'sign the message element alone, without a declaration or whitespace around it',
    );
  }
  const signature = signatureSpanOf(span);
  if (!signature || signature.selfClosing || signature.contentStart !== signature.contentEnd) {
    throw new Error('the message needs an empty <signature></signature> as its last child');
  }
  const value = hmacOf(secret, elementText);
  return (
    elementText.slice(0, signature.contentStart) + value + elementText.slice(signature.contentEnd)
  );
}
