/** A mistake in a mapping: thrown at compile time, or when an event meets a mapping it cannot satisfy. */
export class MappingError extends Error {
  override name = 'MappingError';
}
