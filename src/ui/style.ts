/**
 * The UI's only stylesheet, served at `<prefix>/style.css` so the CSP can forbid inline
 * styles. System fonts only (no downloads). Colours are chosen for at least 4.5:1
 * contrast against their backgrounds; focus is always visible.
 */
export const STYLE_CSS = `
*, *::before, *::after { box-sizing: border-box; }
html { font-size: 100%; -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  line-height: 1.5;
  color: #1f2328;
  background: #f3f4f6;
}
a { color: #1d4ed8; text-underline-offset: 2px; }
a:hover { color: #1e3a8a; }
:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; }
.site-header {
  background: #111827;
  color: #ffffff;
  padding: 0.75rem 1rem;
}
.site-header a { color: #ffffff; text-decoration: none; font-weight: 600; }
.site-header a:focus-visible { outline-color: #93c5fd; }
main {
  width: 100%;
  max-width: 28rem;
  margin: 2rem auto;
  padding: 1.5rem;
  background: #ffffff;
  border: 1px solid #d1d5db;
  border-radius: 0.5rem;
}
@media (max-width: 30rem) {
  main { margin: 0; border-radius: 0; border-left: 0; border-right: 0; padding: 1.25rem 1rem; }
}
h1 { font-size: 1.5rem; margin: 0 0 0.5rem; line-height: 1.25; }
h2 { font-size: 1.125rem; margin: 1.5rem 0 0.5rem; }
.lead { margin: 0 0 1.25rem; color: #4b5563; }
.field { margin: 0 0 1rem; }
.field label { display: block; font-weight: 600; margin-bottom: 0.25rem; }
.field input {
  display: block;
  width: 100%;
  padding: 0.625rem 0.75rem;
  font: inherit;
  color: #1f2328;
  background: #ffffff;
  border: 1px solid #6b7280;
  border-radius: 0.375rem;
}
.field input[aria-invalid="true"] { border-color: #b91c1c; }
.field input:disabled { background: #f3f4f6; color: #4b5563; }
.field-checkbox { display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; }
.field-checkbox input { width: 1.25rem; height: 1.25rem; }
.field-checkbox label { display: inline; margin: 0; }
.actions { margin: 1.25rem 0 0.5rem; }
.button {
  display: block;
  width: 100%;
  padding: 0.7rem 1rem;
  font: inherit;
  font-weight: 600;
  color: #ffffff;
  background: #1d4ed8;
  border: 1px solid #1d4ed8;
  border-radius: 0.375rem;
  cursor: pointer;
}
.button:hover { background: #1e40af; }
.button:disabled { background: #6b7280; border-color: #6b7280; cursor: not-allowed; }
.messages { list-style: none; margin: 0.5rem 0 1rem; padding: 0; }
.field .messages, .actions .messages { margin: 0.375rem 0 0; }
.message { padding: 0.5rem 0.75rem; border-radius: 0.375rem; border: 1px solid; margin-bottom: 0.375rem; }
.message-error { color: #991b1b; background: #fef2f2; border-color: #fca5a5; }
.message-info { color: #1e3a8a; background: #eff6ff; border-color: #93c5fd; }
.message-success { color: #14532d; background: #f0fdf4; border-color: #86efac; }
.links { margin: 1.5rem 0 0; padding: 1rem 0 0; border-top: 1px solid #e5e7eb; list-style: none; }
.links li { margin: 0.25rem 0; }
.text { overflow-wrap: anywhere; }
.text-label { margin-bottom: 0.25rem; color: #4b5563; }
.codes { columns: 2; padding-left: 1.25rem; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.image img { max-width: 100%; height: auto; }
.details { font-size: 0.875rem; color: #4b5563; overflow-wrap: anywhere; }
section + section { border-top: 1px solid #e5e7eb; }
`;
