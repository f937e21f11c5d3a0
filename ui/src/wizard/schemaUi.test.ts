import { describe, expect, it } from "vitest";
import { formSchema, secretFields, uiSchemaFor, withoutSecrets } from "./schemaUi";

const SCHEMA = {
  type: "object",
  properties: {
    base_url: { type: "string", format: "uri" },
    client_id: { type: "string" },
    client_secret: { type: "string", "x-secret": true },
  },
};

describe("config schema to form", () => {
  it("renders x-secret fields as password inputs", () => {
    expect(secretFields(SCHEMA)).toEqual(["client_secret"]);
    expect(uiSchemaFor(SCHEMA).client_secret).toEqual({ "ui:widget": "password", "ui:autocomplete": "new-password" });
    expect(uiSchemaFor(SCHEMA).client_id).toBeUndefined();
  });

  it("keeps what was typed except secrets", () => {
    expect(withoutSecrets({ base_url: "https://x", client_id: "id", client_secret: "s3cret" }, SCHEMA)).toEqual({
      base_url: "https://x",
      client_id: "id",
    });
  });

  it("drops x- annotations for the validator", () => {
    expect(JSON.stringify(formSchema(SCHEMA))).not.toContain("x-secret");
  });
});
