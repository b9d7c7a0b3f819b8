/**
 * Amounts as a payment notice prints them: in figures (120.00元) and in the capital numerals
 * (大写) that a bank requires beside them, so that a figure altered by hand no longer matches.
 */
import Nzh from 'nzh';

function checkedFen(fen: number): number {
  if (!Number.isSafeInteger(fen) || fen < 0) {
    throw new Error(`an amount is a whole number of fen, not ${fen}`);
  }
  return fen;
}

/** Fen as yuan with two decimals: 12000 → '120.00'. */
export function yuanOf(fen: number): string {
  const f = checkedFen(fen);
  return `${Math.floor(f / 100)}.${String(f % 100).padStart(2, '0')}`;
}

/**
 * Fen in capital numerals, as the bank's rules for written amounts have it: '整' after an amount
 * that ends at 元 or 角, none after 分 (壹佰贰拾元整, 伍角整, 壹仟元零伍分). The nzh package does
 * the numerals; an amount of nothing is 零元整.
 */
export function amountInWords(fen: number): string {
  const f = checkedFen(fen);
  if (f === 0) return '零元整';
  return Nzh.cn.toMoney(yuanOf(f), { outSymbol: false, forceZheng: true });
}
