// How a connector's config JSON Schema becomes a form: fields marked `x-secret: true` are
// password inputs, never prefilled and never kept once the user leaves the step.
type Schema = { properties?: Record<string, Record<string, unknown>> };

export function secretFields(schema: Schema | undefined): string[] {
  return Object.entries(schema?.properties ?? {})
    .filter(([, prop]) => prop["x-secret"] === true)
    .map(([name]) => name);
}

export function uiSchemaFor(schema: Schema | undefined): Record<string, unknown> {
  const ui: Record<string, unknown> = { "ui:submitButtonOptions": { norender: true } };
  for (const name of secretFields(schema)) {
    ui[name] = { "ui:widget": "password", "ui:autocomplete": "new-password" };
  }
  return ui;
}

/** The settings part of what was typed: every field except the secrets. */
export function withoutSecrets(data: Record<string, unknown>, schema: Schema | undefined): Record<string, unknown> {
  const secrets = new Set(secretFields(schema));
  return Object.fromEntries(Object.entries(data).filter(([name]) => !secrets.has(name)));
}

/** Schema without the `x-` annotations (the validator's strict mode refuses unknown keywords). */
export function formSchema<T extends Schema>(schema: T): T {
  return JSON.parse(JSON.stringify(schema), (key, value) => (key.startsWith("x-") ? undefined : value));
}
