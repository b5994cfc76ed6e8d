// The sources import each other without an extension (as the bundler resolves them);
// node's ESM loader needs one. For the compiled modules in .test-build/, try `.js`.
import { register } from "node:module";

register(
  "data:text/javascript," +
    encodeURIComponent(`
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (e?.code === "ERR_MODULE_NOT_FOUND" && /^\\.\\.?\\//.test(specifier) && !/\\.[cm]?js$/.test(specifier)) {
      return next(specifier + ".js", context);
    }
    throw e;
  }
}`),
  import.meta.url,
);
