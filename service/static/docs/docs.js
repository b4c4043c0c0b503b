// Starts Swagger UI (the package's own swagger-ui-bundle.js, see README.md here) on the
// service's OpenAPI document. A file, not an inline script: the Content-Security-Policy
// allows scripts from this server only.
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  // No badge from the public validator service: the docs must work offline.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
