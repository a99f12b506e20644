/**
 * The image config a Dockerfile gives one target, worked out from the Dockerfile itself (parsed by
 * dockerfile-ast, the parser behind VS Code's Docker support) the way BuildKit does it:
 * - global ARGs (before the first FROM) take their defaults or the build args, and only FROM lines see them;
 * - a stage starts from its base's config: another stage's (everything it set, ENV included, but
 *   not its ARGs, which are per stage), or an external image's (the caller says what that holds);
 * - ARG in a stage: the build arg, else its default, else the global ARG's value;
 * - ENV, USER, WORKDIR, EXPOSE expand $VAR, ${VAR}, ${VAR:-word} and ${VAR:+word} from the stage's
 *   ARGs and ENV (ENV wins); ENV replaces a variable in place, else appends it;
 * - ENTRYPOINT clears a CMD inherited from the base unless the stage sets its own CMD.
 * Only what reaches an image config is followed; RUN, COPY and the rest change files, not config.
 */
import {
  Arg,
  Cmd,
  DockerfileParser,
  Entrypoint,
  Env,
  From,
  User,
  Workdir,
  type Instruction,
} from "dockerfile-ast";
import { posix } from "node:path";

export interface DockerfileConfig {
  User?: string;
  Env: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  /** `<port>/<protocol>`, sorted. */
  ExposedPorts: string[];
}

interface Stage {
  name: string | undefined;
  from: From;
  instructions: Instruction[];
}

export function dockerfileConfig(
  text: string,
  target: string,
  buildArgs: Readonly<Record<string, string>>,
  /** The config of an image the Dockerfile starts FROM (`alpine:3.24`), which it cannot see. */
  externalBase: (image: string) => DockerfileConfig,
): DockerfileConfig {
  const dockerfile = DockerfileParser.parse(text);
  const globals = new Map<string, string>();
  for (const arg of dockerfile.getInitialARGs()) {
    const property = arg.getProperty();
    if (!property) continue;
    const value = buildArgs[property.getName()] ?? property.getUnescapedValue();
    if (value !== null) globals.set(property.getName(), value);
  }

  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction instanceof From) {
      stages.push({ name: instruction.getBuildStage() ?? undefined, from: instruction, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }

  const configOf = (index: number): DockerfileConfig => {
    const stage = stages[index];
    if (!stage) throw new Error(`Dockerfile: no stage ${index}`);
    const image = expand(stage.from.getImage() ?? "", globals);
    const baseIndex = stages.findIndex((s, i) => i < index && s.name === image);
    const base = baseIndex >= 0 ? configOf(baseIndex) : externalBase(image);
    return applyStage(structuredClone(base), stage, buildArgs, globals);
  };

  const index = stages.findIndex((s) => s.name === target);
  if (index < 0) {
    throw new Error(`Dockerfile has no stage "${target}" (stages: ${stages.map((s) => s.name).join(", ")})`);
  }
  const config = configOf(index);
  config.ExposedPorts.sort();
  return config;
}

function applyStage(
  config: DockerfileConfig,
  stage: Stage,
  buildArgs: Readonly<Record<string, string>>,
  globals: ReadonlyMap<string, string>,
): DockerfileConfig {
  const args = new Map<string, string>();
  let cmdSet = false;
  const variables = () => {
    const all = new Map(args);
    for (const entry of config.Env) {
      const at = entry.indexOf("=");
      all.set(entry.slice(0, at), entry.slice(at + 1));
    }
    return all;
  };
  for (const instruction of stage.instructions) {
    if (instruction instanceof Arg) {
      const property = instruction.getProperty();
      if (!property) continue;
      const name = property.getName();
      const declared = property.getUnescapedValue();
      const value =
        buildArgs[name] ?? (declared === null ? globals.get(name) : expand(declared, variables()));
      if (value !== undefined) args.set(name, value);
    } else if (instruction instanceof Env) {
      // Every value of one ENV sees the variables as they were before it, as in Docker.
      const before = variables();
      for (const property of instruction.getProperties()) {
        const entry = `${property.getName()}=${expand(property.getUnescapedValue() ?? "", before)}`;
        const at = config.Env.findIndex((e) => e.startsWith(`${property.getName()}=`));
        if (at >= 0) config.Env[at] = entry;
        else config.Env.push(entry);
      }
    } else if (instruction instanceof User) {
      config.User = expand(argumentText(instruction), variables());
    } else if (instruction instanceof Workdir) {
      config.WorkingDir = posix.resolve(
        config.WorkingDir ?? "/",
        expand(argumentText(instruction), variables()),
      );
    } else if (instruction.getKeyword() === "EXPOSE") {
      for (const argument of instruction.getArguments()) {
        const port = expand(argument.getValue(), variables());
        const entry = port.includes("/") ? port : `${port}/tcp`;
        if (!config.ExposedPorts.includes(entry)) config.ExposedPorts.push(entry);
      }
    } else if (instruction instanceof Entrypoint) {
      config.Entrypoint = execForm(instruction);
      if (!cmdSet) delete config.Cmd;
    } else if (instruction instanceof Cmd) {
      config.Cmd = execForm(instruction);
      cmdSet = true;
    }
  }
  return config;
}

function argumentText(instruction: Instruction): string {
  return instruction
    .getArguments()
    .map((a) => a.getValue())
    .join(" ");
}

/** The exec form (`["node", "x.js"]`); the shell form runs through /bin/sh -c, as Docker does. */
function execForm(instruction: Entrypoint | Cmd): string[] {
  const json = instruction.getJSONStrings();
  if (json.length > 0) return json.map((s) => s.getJSONValue());
  return ["/bin/sh", "-c", argumentText(instruction)];
}

/** Docker's variable substitution: $VAR, ${VAR}, ${VAR:-word}, ${VAR:+word}; unset is empty. */
export function expand(text: string, variables: ReadonlyMap<string, string>): string {
  return text.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (
      _match,
      braced: string | undefined,
      operator: string | undefined,
      word: string | undefined,
      bare: string | undefined,
    ) => {
      const value = variables.get((braced ?? bare) as string);
      if (operator === "-") return value ? value : (word ?? "");
      if (operator === "+") return value ? (word ?? "") : "";
      return value ?? "";
    },
  );
}
