// Shared shapes of compiled mappings, kept apart so every part of the compiler can name them
// without importing the compiler itself.

export type CompiledValue = (event: unknown) => unknown;
export type CompiledMapping = (event: unknown) => Record<string, unknown>;

export type Dict = Record<string, unknown>;
