// How the reference picks the one identifier Customer.io receives for a person or an object.

// The "full" email format of ajv-formats: a dotted domain is needed ("a@b" is not an email, "a@b.co" is).
const EMAIL =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;

export function looksLikeEmail(value: string): boolean {
  return EMAIL.test(value);
}

export type PersonIdentifier = { id: string } | { email: string } | { cio_id: string } | { anonymous_id: string };
export type ObjectIdentifier = { object_id: unknown; object_type_id: unknown };
export type Identifier = PersonIdentifier | ObjectIdentifier;

export interface IdentifierInputs {
  person_id?: unknown;
  email?: unknown;
  anonymous_id?: unknown;
  object_id?: unknown;
  object_type_id?: unknown;
}

/** A person id as Customer.io expects it: `cio_X` → {cio_id: X}, an email → {email}, else {id}. */
export function personIdentifier(personId: string): PersonIdentifier {
  if (personId.startsWith('cio_')) return { cio_id: personId.slice(4) };
  if (looksLikeEmail(personId)) return { email: personId };
  return { id: personId };
}

/** First matching rule wins: object, then person id, then email, then anonymous id; undefined when none. */
export function resolveIdentifiers(inputs: IdentifierInputs): Identifier | undefined {
  const { object_id, person_id, email, anonymous_id } = inputs;
  const object_type_id = inputs.object_type_id === undefined ? '1' : inputs.object_type_id;
  if (object_id && object_type_id) return { object_id, object_type_id };
  if (person_id) return personIdentifier(String(person_id));
  if (email) return { email: String(email) };
  if (anonymous_id) return { anonymous_id: String(anonymous_id) };
  return undefined;
}
