import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The product (src/, functions/) runs from a production install: it never
 * imports the rehearsal harness, and its runtime dependencies are exactly the
 * packages it imports.
 */

const ROOT = resolve(import.meta.dirname, "../..");
const PRODUCT = ["src", "functions"];
const packageJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(entry.name) ? [path] : [];
  });
}

/** Every module a file imports, exports from or loads with import(), type-only imports aside. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly) ||
      (ts.isExportDeclaration(node) && !node.isTypeOnly)
    ) {
      if (node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        found.push(node.moduleSpecifier.text);
      }
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const packageName = (specifier: string) =>
  specifier.startsWith("@")
    ? specifier.split("/").slice(0, 2).join("/")
    : (specifier.split("/")[0] as string);

const files = PRODUCT.flatMap(sourceFiles);
const imports = files.flatMap((file) => importsOf(file).map((specifier) => ({ file, specifier })));

describe("the product's boundary", () => {
  it("has source files to check", () => {
    expect(files.length).toBeGreaterThan(20);
    expect(imports.length).toBeGreaterThan(100);
  });

  it("never imports the harness or the tests", () => {
    const outside = imports.filter(({ file, specifier }) => {
      if (!specifier.startsWith(".")) return false;
      const target = relative(ROOT, resolve(ROOT, dirname(file), specifier));
      return !PRODUCT.some((dir) => target.startsWith(`${dir}/`));
    });
    expect(outside).toEqual([]);
  });

  it("imports only packages that are runtime dependencies", () => {
    const builtins = new Set(builtinModules);
    const missing = imports.filter(
      ({ specifier }) =>
        !specifier.startsWith(".") &&
        !specifier.startsWith("node:") &&
        !builtins.has(specifier) &&
        !(packageName(specifier) in packageJson.dependencies),
    );
    expect(missing).toEqual([]);
  });

  it("has no runtime dependency it does not import", () => {
    const imported = new Set(imports.map(({ specifier }) => packageName(specifier)));
    const unused = Object.keys(packageJson.dependencies).filter((name) => !imported.has(name));
    expect(unused).toEqual([]);
  });
});
