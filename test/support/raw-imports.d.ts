// Vite's `?raw` suffix: a file's text as a string (test/ice-servers-js.test.ts runs the served helper).
declare module "*?raw" {
  const text: string;
  export default text;
}
