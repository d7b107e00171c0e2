// Vite builds the dashboard into dist/ (hashed assets under dist/assets/), which the control plane
// serves on its own host. Nothing is inlined into index.html: the page's CSP allows only 'self'
// scripts.
import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Keep every script a file: the CSP has no 'unsafe-inline' for scripts.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 800,
  },
});
