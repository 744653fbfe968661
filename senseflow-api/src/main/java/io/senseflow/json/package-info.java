/**
 * Strict JSON for the SDK's own files (configs, model metadata, tokenizer configs, provenance, metrics): a small facade
 * ({@link io.senseflow.json.Json}, {@link io.senseflow.json.JsonObject}) over Jackson's streaming parser and generator
 * that refuses duplicate keys and names the field path in every error.
 *
 * <p>Internal: not part of the public API; may change without notice. Applications read and write their JSON with a JSON library of their own.
 */
package io.senseflow.json;
