// Validates an OpenAPI document against the OpenAPI 3.0 schema (and resolves every $ref).
// Usage: node validate-openapi.js FILE.json — exits 0 when valid, 1 with the reason otherwise.
const SwaggerParser = require("@apidevtools/swagger-parser");

SwaggerParser.validate(process.argv[2])
  .then((api) => {
    console.log(`valid: ${api.info.title} ${api.info.version}, ${Object.keys(api.paths).length} paths`);
  })
  .catch((err) => {
    console.error(`invalid: ${err.message}`);
    process.exit(1);
  });
