/**
 * The configuration file: zod schema (source of `schemas/config.schema.json`), loader with
 * environment overrides, and its error type.
 *
 * @module
 */
export { configSchema, configJsonSchema } from './schema.ts'
export type { Config } from './schema.ts'
export { loadConfig, parseConfig, envName, ENV_OVERRIDES } from './load.ts'
export type { LoadOptions } from './load.ts'
export { ConfigError } from './errors.ts'
export type { ConfigErrorCode } from './errors.ts'
