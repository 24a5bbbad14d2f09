/**
 * The reply form a question asks for, and the answer read back from the posted form.
 *
 * A question (what a handler passed to `ctx.ask`) may describe its answer:
 * - `{ fields: [{ name, label?, type?: 'text' | 'number' | 'boolean', options?: [...] }, ...] }`:
 *   one input per field (a select where there are options); the answer is `{ name: value, ... }`;
 * - `{ options: ['yes', 'no'] }`: one choice; the answer is the chosen option;
 * - anything else: a JSON text area; the answer is the parsed JSON.
 */
import type { Json } from '../../machines/common.ts';
import { InvalidInputError } from '../errors.ts';

export interface ReplyField {
  name: string;
  label: string;
  type: 'text' | 'number' | 'boolean';
  options: string[] | null;
}

export type ReplyShape = { kind: 'fields'; fields: ReplyField[] } | { kind: 'options'; options: string[] } | { kind: 'json' };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optionsOf = (v: unknown): string[] | null =>
  Array.isArray(v) && v.length > 0 && v.every((o) => typeof o === 'string' || typeof o === 'number') ? v.map(String) : null;

export function replyShapeOf(question: Json | null): ReplyShape {
  if (isObject(question)) {
    const fields = question.fields;
    if (Array.isArray(fields) && fields.length > 0 && fields.every((f) => isObject(f) && typeof f.name === 'string' && f.name !== '')) {
      return {
        kind: 'fields',
        fields: (fields as Array<Record<string, unknown>>).map((f) => ({
          name: f.name as string,
          label: typeof f.label === 'string' ? f.label : (f.name as string),
          type: f.type === 'number' || f.type === 'boolean' ? f.type : 'text',
          options: optionsOf(f.options),
        })),
      };
    }
    const options = optionsOf(question.options);
    if (options) return { kind: 'options', options };
  }
  return { kind: 'json' };
}

/** The answer from the posted form, as the shape asks; INVALID_INPUT when it cannot be read. */
export function answerFrom(shape: ReplyShape, form: Record<string, string>): Json {
  switch (shape.kind) {
    case 'fields': {
      const answer: Record<string, Json> = {};
      for (const field of shape.fields) {
        const text = form[`field.${field.name}`];
        if (field.type === 'boolean') {
          answer[field.name] = text === 'on' || text === 'true';
          continue;
        }
        if (text === undefined || text.trim() === '') throw new InvalidInputError(field.label, 'is required');
        if (field.options && !field.options.includes(text)) throw new InvalidInputError(field.label, 'must be one of the options');
        if (field.type === 'number') {
          const n = Number(text);
          if (!Number.isFinite(n)) throw new InvalidInputError(field.label, 'must be a number');
          answer[field.name] = n;
        } else answer[field.name] = text;
      }
      return answer;
    }
    case 'options': {
      const choice = form.choice;
      if (choice === undefined || !shape.options.includes(choice)) throw new InvalidInputError('answer', 'choose one of the options');
      return choice;
    }
    case 'json': {
      const text = form.answer ?? '';
      try {
        return JSON.parse(text) as Json;
      } catch {
        throw new InvalidInputError('answer', 'is not valid JSON');
      }
    }
  }
}
