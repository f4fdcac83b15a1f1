/**
 * Processes that stop answering, die and come back: SIGSTOP/SIGCONT of a site, kill -9 and
 * restart of a site, and a hub that keeps flapping. Office keeps asking factory for its health
 * throughout; every answer is 200 or a quick failure (502 at once, 504 at the deadline).
 */
import {
  api,
  beforeAfter,
  FAST,
  type Lab,
  logged,
  ms,
  outcome,
  procFigures,
  type Scenario,
  sleep,
  steadyLoad,
} from "../lab.ts";
import { FACTORY_HEALTH, startTrio } from "./trio.ts";

/** ping_interval 1 s × 3 missed, plus a second for the ticks to line up. */
const DEAD_PEER_BOUND_MS = 5000;
/** reconnect_max 1 s plus a TLS handshake and authentication. */
const RECONNECT_BOUND_MS = 4000;

export const stopCont: Scenario = {
  name: "SIGSTOP/SIGCONT site",
  what: "factory frozen 5 s then thawed: hub detects it, office gets quick failures, all recovers",
  async run(lab: Lab) {
    const { hub, factory, office } = await startTrio(lab);
    const officeBefore = procFigures(office.child.pid);
    const load = steadyLoad(office.apiPort!, FACTORY_HEALTH);
    await sleep(500);
    const mark = hub.child.log.count;
    const t0 = performance.now();
    factory.child.signal("SIGSTOP");
    const detected = await logged(hub, "disconnected", { peer: "factory" }, mark);
    await sleep(Math.max(0, 5000 - (performance.now() - t0)));
    const mark2 = hub.child.log.count;
    const t1 = performance.now();
    factory.child.signal("SIGCONT");
    const back = await logged(hub, "authenticated", { peer: "factory" }, mark2);
    const officeMark = office.child.log.count;
    await logged(office, "factory is reachable via hub", {}, officeMark).catch(() => 0);
    let firstOk = 0;
    for (let i = 0; i < 100 && firstOk === 0; i++) {
      const r = await api(office.apiPort!, FACTORY_HEALTH);
      if (r.status === 200) firstOk = performance.now();
      else await sleep(50);
    }
    const tally = await load.stop();
    const officeAfter = procFigures(office.child.pid);
    const detect = detected - t0;
    const recover = back - t1;
    return outcome([
      `detected in ${ms(detect)}`,
      `relinked ${ms(recover)} after SIGCONT, answering ${ms(firstOk - t1)} after`,
      `office answers ${tally}`,
      `office ${beforeAfter(officeBefore, officeAfter)}`,
    ], {
      [`dead peer detected within ${ms(DEAD_PEER_BOUND_MS)}`]: detect < DEAD_PEER_BOUND_MS,
      [`relinked within ${ms(RECONNECT_BOUND_MS)}`]: recover < RECONNECT_BOUND_MS,
      "answers again after SIGCONT": firstOk > 0,
      "only 200, 502 or 504 answers": tally.only(200, 502, 504),
    });
  },
};

export const killRestart: Scenario = {
  name: "kill -9 and restart site",
  what: "factory killed: 502 at once for office, restart relinks",
  async run(lab: Lab) {
    const { hub, factory, office, factorySpec } = await startTrio(lab);
    const mark = hub.child.log.count;
    const t0 = performance.now();
    factory.child.signal("SIGKILL");
    const detected = await logged(hub, "disconnected", { peer: "factory" }, mark);
    await factory.child.exited();
    const lost = await api(office.apiPort!, FACTORY_HEALTH);
    const mark2 = hub.child.log.count;
    const t1 = performance.now();
    const again = await lab.start(factorySpec);
    const back = await logged(hub, "authenticated", { peer: "factory" }, mark2);
    let firstOk = 0;
    for (let i = 0; i < 100 && firstOk === 0; i++) {
      const r = await api(office.apiPort!, FACTORY_HEALTH);
      if (r.status === 200) firstOk = performance.now();
      else await sleep(50);
    }
    await lab.stop(again);
    return outcome([
      `hub saw it go in ${ms(detected - t0)}`,
      `office got ${lost.status} in ${ms(lost.ms)}`,
      `restart → linked ${ms(back - t1)}, answering ${ms(firstOk - t1)} (process start included)`,
    ], {
      "detected within 1 s": detected - t0 < 1000,
      "office gets 502 at once": lost.status === 502 && lost.ms < 1000,
      "answers again after the restart": firstOk > 0,
    });
  },
};

export const hubFlap: Scenario = {
  name: "hub flapping",
  what: "hub killed -9 and restarted again and again: office and factory relink each time",
  async run(lab: Lab, quick: boolean) {
    const { hub, office, factory } = await startTrio(lab);
    const hubPort = hub.fedPort!;
    const fixed = await lab.writeConfig({
      name: "hub",
      listen: hubPort,
      api: "token",
      extra: FAST,
    }, "hub-fixed");
    const officeBefore = procFigures(office.child.pid);
    const factoryBefore = procFigures(factory.child.pid);
    const load = steadyLoad(office.apiPort!, FACTORY_HEALTH);
    const cycles = quick ? 2 : 10;
    const recoveries: number[] = [];
    let current = hub;
    for (let i = 0; i < cycles; i++) {
      current.child.signal("SIGKILL");
      await current.child.exited();
      lab.all.delete(current.child);
      await sleep(300);
      const t0 = performance.now();
      current = await lab.startFrom("hub", fixed);
      // Back means: office's request to factory, through the new hub, answered.
      let answered = 0;
      while (answered === 0 && performance.now() - t0 < 10_000) {
        if ((await api(office.apiPort!, FACTORY_HEALTH, { timeoutMs: 4000 })).status === 200) {
          answered = performance.now();
        } else await sleep(50);
      }
      recoveries.push((answered || performance.now()) - t0);
      await sleep(500);
    }
    let firstOk = false;
    for (let i = 0; i < 50 && !firstOk; i++) {
      firstOk = (await api(office.apiPort!, FACTORY_HEALTH)).status === 200;
      if (!firstOk) await sleep(100);
    }
    const tally = await load.stop();
    const worst = Math.max(...recoveries);
    const officeAfter = procFigures(office.child.pid);
    const factoryAfter = procFigures(factory.child.pid);
    return outcome([
      `${cycles} flaps; factory answering again ${ms(Math.min(...recoveries))}–${ms(worst)} ` +
      `after each hub start (process start included)`,
      `office answers ${tally}`,
      `office ${beforeAfter(officeBefore, officeAfter)}`,
      `factory ${beforeAfter(factoryBefore, factoryAfter)}`,
    ], {
      "each flap recovered within 5 s of the restart": worst < 5000,
      "answers at the end": firstOk,
      "only 200, 502 or 504 answers": tally.only(200, 502, 504) && tally.count(200) > 0,
      "no descriptors leaked": officeAfter.fds <= officeBefore.fds + 2 &&
        factoryAfter.fds <= factoryBefore.fds + 2,
    });
  },
};
