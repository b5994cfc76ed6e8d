import { defineConfig } from "vite";

// The gateway serves dist/ at `/` (CHAT__GATEWAY__WEB_DIR). Everything the page needs is
// bundled: no CDN, no remote fonts, nothing fetched from elsewhere at run time.
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    // No inline <script> or data: modules: the gateway's Content-Security-Policy only
    // allows the page's own files.
    assetsInlineLimit: 0,
  },
  server: {
    // `npm run dev` against a gateway on 8080 (`infra/dev up`).
    proxy: {
      "/api": { target: "http://127.0.0.1:8080", ws: true },
    },
  },
});
